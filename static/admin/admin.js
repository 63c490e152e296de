/* Huoma ops console: plain JS, no build step. Everything it shows comes from /admin/api/. Ops sign
   in with their account (an HttpOnly session cookie; every change sends the session's CSRF token);
   automation may still use a bearer token, which lives in this tab's sessionStorage only. */
(function () {
  "use strict";

  var TEXT = {
    zh: {
      title: "活码运营台", navHealth: "群健康", navUploads: "上传", navAlerts: "告警",
      navEntries: "入口码", navFunnel: "数据漏斗", logout: "退出", loginTitle: "登录",
      token: "管理令牌", tokenHint: "令牌由部署方在 HUOMA_ADMIN_TOKENS 中配置，只保存在本标签页。",
      login: "登录", badToken: "令牌无效", closed: "管理接口未开启：没有配置 HUOMA_ADMIN_TOKENS",
      username: "用户名", password: "密码", badSignIn: "用户名或密码错误", signInWait: "尝试次数过多，请稍后再试",
      useToken: "改用令牌登录（自动化）", sessionEnded: "登录已过期，请重新登录",
      roleAdmin: "管理员", roleEditor: "编辑", roleViewer: "只读", allRegions: "全部地区",
      allStores: "全部门店", lowStores: "可用群不足", fallbackStores: "兜底中", city: "城市", region: "大区",
      storeSearch: "门店编号或名称", query: "查询", store: "门店", usable: "可用群", status: "状态",
      activeGroup: "当前群", members: "成员", displays: "已展示", expires: "过期",
      leased: "已预留 {n} 次展示（各进程预先领取，不一定已展示）",
      stores: "门店数", low: "可用群不足", onFallback: "兜底中", ok: "正常", fallback: "兜底",
      none: "无", expired: "已过期", never: "不过期", days: "天", hours: "小时", minutes: "分钟",
      prev: "上一页", next: "下一页", page: "第 {a}–{b} 条，共 {n} 条",
      groupsOf: "{s} 的群", retire: "停用", restore: "恢复", top: "置顶", setMembers: "改成员数",
      membersPrompt: "群 {g} 现在有多少成员？", state: "状态", position: "顺序", source: "来源",
      actions: "操作", qrPayload: "二维码内容",
      standby: "待用", active: "使用中", full: "已满", retired: "已停用", group: "群",
      uploadTitle: "上传门店、群、兜底与入口码", kind: "类型", kindStores: "门店", kindGroups: "群",
      kindFallbacks: "兜底", kindEntries: "入口码", file: "文件 (XLSX / CSV / JSON)",
      dryRun: "预检", commit: "确认导入",
      uploadHint: "先预检：列出每一行的问题，什么也不写入；没有问题才能导入，导入是全部成功或全部不变。",
      dryOk: "预检通过：{rows} 行，新增 {ins}，更新 {upd}，不变 {same}。可以确认导入。",
      noneFound: "没有找到符合条件的门店",
      dryOkWarned: "预检完成：{rows} 行，新增 {ins}，更新 {upd}，不变 {same}。有 {w} 处警告：请逐条核对并勾选确认后再导入。",
      imported: "已导入：{rows} 行，新增 {ins}，更新 {upd}，不变 {same}。",
      encoding: "文字编码 (CSV / JSON)", encodingAuto: "自动识别",
      coordSource: "坐标来源（文件没有坐标系列时）", coordFromFile: "按文件的坐标系列",
      readAs: "按 {f} 读取，文字编码 {e}（{how}）。请核对前 {n} 行是否正确，尤其是中文：",
      readXlsx: "按 XLSX 工作簿读取。请核对前 {n} 行：", detected: "自动识别", chosen: "手动指定",
      previewTitle: "读取结果（前 {n} 行）",
      ignored: "未使用的列：{c}", rejected: "文件有 {n} 处问题，什么也没有写入：",
      more: "另有 {n} 处问题未列出。", row: "行", column: "列", value: "值", problem: "问题",
      wholeFile: "整个文件",
      templatesTitle: "模板与导出", templatesHint: "模板含中文列名、一行示例和说明表；导出的文件改完可以直接再上传。",
      template: "模板", exportNow: "导出当前数据",
      openOnly: "只看未解决", time: "时间", message: "内容", delivery: "推送", resolved: "已解决",
      low_groups: "可用群不足", on_fallback: "兜底中", group_expiring: "群码将过期",
      sent: "已推送", pending: "待推送", suppressed: "冷却中未推送", failed: "推送失败",
      off: "未配置推送", yes: "是", no: "否",
      newEntry: "新建入口码", entryCounter: "柜台码（通用）", entryPoster: "海报码",
      entryStore: "门店柜台码（固定门店）", storeId: "门店编号", label: "备注",
      codeOptional: "码（可不填）", create: "创建", created: "已创建入口码 {c}",
      counter: "柜台码", poster: "海报码", pinned: "固定门店 {s}",
      from: "从", to: "到", byDay: "按天", byStore: "按门店", byEntry: "按入口码",
      byAll: "按天 × 门店 × 入口码", exportCsv: "导出 CSV",
      visitorsHint: "访客数在每一天内去重；跨天的行与合计把每天相加（访客·天）。",
      day: "日期", entry: "入口码", page_views: "打开页面", scans: "扫码", visitors: "访客", located: "有定位",
      repeats: "重复打开", renewals: "页面续期",
      stepsHint: "漏斗：打开页面 → 扫码（页面请求门店与群码；同一访客在粘滞期内再次得到同一个群不算新扫码）→ 有定位 → 展示群码（群码或兜底码第一次展示给该访客）→ 入群。「重复打开」与「页面续期」不计入任何一步。",
      no_store_nearby: "附近无门店", no_group: "无可用群", no_location: "无定位",
      bad_input: "错误请求", groups_shown: "展示群码", joined: "入群", chartTitle: "每日扫码与结果",
      wecomTitle: "企业微信「加入群聊」", wecomState: "渠道 state", wecomSynced: "上次同步",
      wecomError: "同步失败：{m}", wecomChat: "客户群", wecomInWay: "在二维码中", wecomAdopted: "企业微信自动建群",
      wecomDismissed: "已解散", wecomCode: "二维码链接",
      wecomUse: "使用企业微信「加入群聊」…", wecomAdd: "添加客户群…", wecomStop: "停用企业微信",
      wecomStopConfirm: "停用门店 {s} 的企业微信「加入群聊」二维码？", wecomChatsPrompt: "门店 {s} 的企业微信客户群 chat_id（在企业微信里建好群后获取；多个用逗号分隔）",
      noData: "这段时间没有扫码", empty: "（无）", saved: "已保存", failedRequest: "请求失败：{m}",
      network: "网络错误，请重试"
    },
    en: {
      title: "Huoma Ops", navHealth: "Group health", navUploads: "Uploads", navAlerts: "Alerts",
      navEntries: "Entry codes", navFunnel: "Funnel", logout: "Log out", loginTitle: "Log in",
      token: "Admin token", tokenHint: "Tokens are configured in HUOMA_ADMIN_TOKENS; this tab keeps it only while open.",
      login: "Log in", badToken: "The token is not valid", closed: "The admin API is closed: no HUOMA_ADMIN_TOKENS configured",
      username: "Username", password: "Password", badSignIn: "Wrong username or password", signInWait: "Too many attempts; try again shortly",
      useToken: "Use a token instead (automation)", sessionEnded: "Your session has ended; sign in again",
      roleAdmin: "Admin", roleEditor: "Editor", roleViewer: "Viewer", allRegions: "All regions",
      allStores: "All stores", lowStores: "Low on groups", fallbackStores: "On fallback", city: "City", region: "Region",
      storeSearch: "Store id or name", query: "Search", store: "Store", usable: "Usable", status: "Status",
      activeGroup: "Active group", members: "Members", displays: "Displays shown", expires: "Expires",
      leased: "{n} displays leased (taken ahead by workers, not necessarily shown)",
      stores: "Stores", low: "Low on groups", onFallback: "On fallback", ok: "OK", fallback: "Fallback",
      none: "none", expired: "expired", never: "never", days: "d", hours: "h", minutes: "min",
      prev: "Previous", next: "Next", page: "{a}–{b} of {n}",
      groupsOf: "Groups of {s}", retire: "Retire", restore: "Restore", top: "Move to top",
      setMembers: "Set members", membersPrompt: "How many members does group {g} have now?",
      state: "State", position: "Order", source: "Source", actions: "Actions", qrPayload: "QR payload",
      standby: "standby", active: "active", full: "full", retired: "retired", group: "Group",
      uploadTitle: "Upload stores, groups, fallbacks and entry codes", kind: "Kind", kindStores: "Stores",
      kindGroups: "Groups", kindFallbacks: "Fallbacks", kindEntries: "Entry codes",
      file: "File (XLSX / CSV / JSON)", dryRun: "Dry run", commit: "Import",
      uploadHint: "Dry-run first: every row's problems are listed and nothing is written. Import applies all rows or none.",
      dryOk: "Dry run passed: {rows} rows, {ins} new, {upd} updated, {same} unchanged. Ready to import.",
      noneFound: "No store matches",
      dryOkWarned: "Dry run done: {rows} rows, {ins} new, {upd} updated, {same} unchanged. {w} warning(s): check each and tick to confirm before importing.",
      imported: "Imported: {rows} rows, {ins} new, {upd} updated, {same} unchanged.",
      encoding: "Text encoding (CSV / JSON)", encodingAuto: "Automatic",
      coordSource: "Coordinate source (a file without a coord column)", coordFromFile: "From the file's coord column",
      readAs: "Read as {f} in {e} ({how}). Check that the first {n} rows read right, the Chinese above all:",
      readXlsx: "Read as an XLSX workbook. Check the first {n} rows:", detected: "detected", chosen: "as chosen",
      previewTitle: "As read (first {n} rows)",
      ignored: "Columns not used: {c}", rejected: "The file has {n} problem(s); nothing was written:",
      more: "{n} more problem(s) not listed.", row: "Row", column: "Column", value: "Value",
      problem: "Problem", wholeFile: "whole file",
      templatesTitle: "Templates and exports", templatesHint: "Templates hold English column names, an example row and an Instructions sheet; an edited export uploads again as it is.",
      template: "Template", exportNow: "Export current data",
      openOnly: "Open only", time: "Time", message: "Message", delivery: "Webhook", resolved: "Resolved",
      low_groups: "Low on groups", on_fallback: "On fallback", group_expiring: "Group expiring",
      sent: "sent", pending: "pending", suppressed: "suppressed (cool-down)", failed: "failed",
      off: "no webhook", yes: "yes", no: "no",
      newEntry: "New entry code", entryCounter: "Counter (any store)", entryPoster: "Poster",
      entryStore: "Store counter (pinned)", storeId: "Store id", label: "Label",
      codeOptional: "Code (optional)", create: "Create", created: "Created entry code {c}",
      counter: "counter", poster: "poster", pinned: "pinned to {s}",
      from: "From", to: "To", byDay: "By day", byStore: "By store", byEntry: "By entry code",
      byAll: "By day × store × entry", exportCsv: "Export CSV",
      visitorsHint: "Visitors are distinct within each day; rows spanning days and the totals add the days up (visitor-days).",
      day: "Day", entry: "Entry", page_views: "Page views", scans: "Scans", visitors: "Visitors", located: "Located",
      repeats: "Repeats", renewals: "Link renewals",
      stepsHint: "Funnel: page view → scan (the page asks for a store and its group; the same visitor given the same group again within the sticky period is no new scan) → located → group shown (a group or fallback code shown to that visitor for the first time) → joined. Repeats and link renewals count in no step.",
      no_store_nearby: "No store nearby", no_group: "No group", no_location: "No location",
      bad_input: "Bad input", groups_shown: "Groups shown", joined: "Joined", chartTitle: "Scans per day by outcome",
      wecomTitle: "WeCom join way", wecomState: "State", wecomSynced: "Last sync",
      wecomError: "Sync failed: {m}", wecomChat: "Customer group", wecomInWay: "In the QR code", wecomAdopted: "Opened by WeCom",
      wecomDismissed: "Dismissed", wecomCode: "QR link",
      wecomUse: "Use a WeCom join way…", wecomAdd: "Add customer groups…", wecomStop: "Stop WeCom",
      wecomStopConfirm: "Stop the WeCom join way of store {s}?", wecomChatsPrompt: "WeCom customer group chat_id(s) of store {s} (open the group in WeCom first; separate several with commas)",
      noData: "No scans in this period", empty: "(none)", saved: "Saved", failedRequest: "Request failed: {m}",
      network: "Network error, please retry"
    }
  };
  var MEASURES = ["page_views", "scans", "visitors", "located", "ok", "fallback", "no_store_nearby", "no_group",
    "no_location", "bad_input", "groups_shown", "joined", "repeats", "renewals"];
  // The funnel's steps, in order (README, "The scan funnel"); the other figures follow them.
  var STEPS = ["page_views", "scans", "located", "groups_shown", "joined"];
  var KINDS = ["stores", "groups", "fallbacks", "entries"];
  var PAGE = 50;

  // Screens kept in their own files (settings.js, ...) register here before this file runs:
  // {views: [...], text: {zh, en}, load(view, h), storeDetail(storeId, cell, h)}.
  var EXTENSIONS = window.HuomaAdminExtensions || [];
  EXTENSIONS.forEach(function (x) {
    ["zh", "en"].forEach(function (l) { Object.keys((x.text || {})[l] || {}).forEach(function (k) { TEXT[l][k] = x.text[l][k]; }); });
  });
  var EXTRA_VIEWS = [];
  EXTENSIONS.forEach(function (x) { EXTRA_VIEWS = EXTRA_VIEWS.concat(x.views || []); });
  // Words of the screens kept in their own files (accounts.js: window.huomaText).
  var moreText = window.huomaText || {};
  ["zh", "en"].forEach(function (l) { Object.assign(TEXT[l], moreText[l] || {}); });

  var lang = pickLang();
  var token = sessionStorage.getItem("hm_admin_token") || "";
  // The signed-in principal (GET /admin/api/session) and its session's CSRF token.
  var me = null;
  var csrf = "";
  var VIEWS = ["login", "health", "uploads", "alerts", "entries", "funnel", "accounts"].concat(EXTRA_VIEWS);
  // Screens kept in their own files register here (accounts.js: window.huomaViews.accounts).
  var extraViews = window.huomaViews || {};
  var state = { view: "health", healthOffset: 0, funnelOffset: 0, openStore: null, blobs: [] };

  function $(id) { return document.getElementById(id); }
  function t(key, args) {
    var s = (TEXT[lang][key] !== undefined ? TEXT[lang][key] : TEXT.zh[key]) || key;
    if (args) { Object.keys(args).forEach(function (k) { s = s.split("{" + k + "}").join(args[k]); }); }
    return s;
  }
  function pickLang() {
    var saved = localStorage.getItem("hm_admin_lang");
    if (saved === "zh" || saved === "en") { return saved; }
    var nav = (navigator.languages && navigator.languages[0]) || navigator.language || "zh";
    return /^en\b/i.test(nav) ? "en" : "zh";
  }
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (k === "text") { node.textContent = attrs[k]; }
        else if (k === "class") { node.className = attrs[k]; }
        else if (k.slice(0, 2) === "on") { node.addEventListener(k.slice(2), attrs[k]); }
        else if (attrs[k] !== null && attrs[k] !== undefined) { node.setAttribute(k, attrs[k]); }
      });
    }
    (children || []).forEach(function (c) {
      if (c !== null && c !== undefined) { node.appendChild(typeof c === "string" ? document.createTextNode(c) : c); }
    });
    return node;
  }
  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }
  function num(n) { return n === null || n === undefined ? "–" : Number(n).toLocaleString(lang === "zh" ? "zh-CN" : "en-US"); }
  // Times in the brand's time zone (HUOMA_TIMEZONE, told by GET /admin/api/session), not the browser's.
  function when(iso) {
    if (!iso) { return "–"; }
    var options = { hour12: false, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" };
    if (me && me.timezone) { options.timeZone = me.timezone; }
    try {
      return new Date(iso).toLocaleString(lang === "zh" ? "zh-CN" : "en-GB", options);
    } catch (e) {
      delete options.timeZone;
      return new Date(iso).toLocaleString(lang === "zh" ? "zh-CN" : "en-GB", options);
    }
  }

  function applyText() {
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    document.title = t("title");
    Array.prototype.forEach.call(document.querySelectorAll("[data-t]"), function (n) { n.textContent = t(n.getAttribute("data-t")); });
    Array.prototype.forEach.call(document.querySelectorAll("[data-tp]"), function (n) { n.setAttribute("placeholder", t(n.getAttribute("data-tp"))); });
    $("lang").textContent = lang === "zh" ? "English" : "中文";
  }

  function flash(message) {
    var f = $("flash");
    f.textContent = message;
    f.hidden = !message;
  }

  // ---- talking to the API -------------------------------------------------------------------

  function ApiError(status, body) {
    var e = (body && body.error) || {};
    this.status = status;
    this.code = e.code || "http_" + status;
    this.message = e.message || "HTTP " + status;
    this.errors = e.errors || [];
    this.more = e.more_errors || 0;
    this.grouped = e.grouped || [];
  }

  function request(path, options) {
    options = options || {};
    var headers = options.headers || {};
    if (token) { headers.Authorization = "Bearer " + token; }
    var method = (options.method || "GET").toUpperCase();
    if (csrf && method !== "GET" && method !== "HEAD") { headers["X-CSRF-Token"] = csrf; }
    options.headers = headers;
    options.credentials = "same-origin";
    return fetch(path, options).then(function (r) {
      if (r.status === 401 || r.status === 403) {
        return r.json().then(function (b) { throw new ApiError(r.status, b); }, function () { throw new ApiError(r.status, null); });
      }
      return r;
    }, function () { throw new ApiError(0, { error: { code: "network", message: t("network") } }); });
  }

  function api(path, options) {
    return request(path, options).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) { throw new ApiError(r.status, body); }
        return body;
      });
    });
  }

  function failed(err) {
    if (err && err.status === 401 && state.view !== "login") {
      logout(token ? t("badToken") : t("sessionEnded"));
      return;
    }
    flash(t("failedRequest", { m: err && err.message ? err.message : String(err) }));
  }

  function blobUrl(path) {
    return request(path).then(function (r) {
      if (!r.ok) { return r.json().then(function (b) { throw new ApiError(r.status, b); }); }
      return r.blob();
    }).then(function (blob) {
      var url = URL.createObjectURL(blob);
      state.blobs.push(url);
      return url;
    });
  }

  function download(path, filename) {
    blobUrl(path).then(function (url) {
      var a = el("a", { href: url, download: filename });
      document.body.appendChild(a);
      a.click();
      a.remove();
    }, failed);
  }

  // ---- log in, views --------------------------------------------------------------------------

  // What other screens of the page (pictures.js) use: the same requests, texts and refresh.
  window.HuomaAdmin = {
    api: api, el: el, clear: clear, flash: flash, failed: failed, when: when,
    lang: function () { return lang; },
    reload: function () { loadHealth(); }
  };

  // The screens the signed-in principal's role may use (from the who-am-I answer): settings,
  // audit, brand and accounts (class needs-admin) only for an admin of every region, store links
  // (needs-editor) for editors and admins. The others are not offered and cannot be reached by
  // their #hash either; the API refuses them anyway.
  function mayUse(view) {
    var b = document.querySelector('#nav button[data-view="' + view + '"]');
    if (!b || !me) { return true; }
    if (b.classList.contains("needs-admin")) { return me.role === "admin" && !me.regions.length; }
    if (b.classList.contains("needs-editor")) { return me.role === "admin" || me.role === "editor"; }
    return true;
  }

  function show(view) {
    if (view !== "login" && !mayUse(view)) { view = "health"; }
    state.view = view;
    VIEWS.forEach(function (v) { if ($("v-" + v)) { $("v-" + v).hidden = v !== view; } });
    Array.prototype.forEach.call(document.querySelectorAll("#nav button"), function (b) {
      b.classList.toggle("on", b.getAttribute("data-view") === view);
    });
    $("nav").hidden = view === "login";
    $("logout").hidden = view === "login";
    $("whoami").hidden = view === "login";
    flash("");
    state.blobs.forEach(function (u) { URL.revokeObjectURL(u); });
    state.blobs = [];
    if (view === "health") { loadHealth(); }
    if (view === "uploads") { drawDownloads(); }
    if (view === "alerts") { loadAlerts(); }
    if (view === "entries") { loadEntries(); }
    if (view === "funnel") { loadFunnel(); }
    EXTENSIONS.forEach(function (x) { if ((x.views || []).indexOf(view) >= 0 && x.load) { x.load(view, helpers()); } });
    if (extraViews[view]) { extraViews[view](); }
    if (view !== "login") { history.replaceState(null, "", "#" + view); }
  }

  function signedIn(principal) {
    me = principal;
    csrf = principal.csrf_token || "";
    // What the role may not do is not offered (the API refuses it anyway).
    document.body.className = "role-" + principal.role + (principal.regions.length ? " regional" : "");
    var roles = { admin: t("roleAdmin"), editor: t("roleEditor"), viewer: t("roleViewer") };
    $("whoami").textContent = principal.actor + " · " + roles[principal.role] + " · " +
      (principal.regions.length ? principal.regions.join("、") : t("allRegions"));
    Array.prototype.forEach.call(document.querySelectorAll("#nav button"), function (b) {
      b.hidden = !mayUse(b.getAttribute("data-view"));
    });
    var wanted = location.hash.slice(1);
    show(wanted && wanted !== "login" && VIEWS.indexOf(wanted) >= 0 ? wanted : "health");
  }

  function logout(message) {
    if (csrf) { fetch("/admin/api/session", { method: "DELETE", headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" }); }
    token = "";
    me = null;
    csrf = "";
    document.body.className = "";
    sessionStorage.removeItem("hm_admin_token");
    show("login");
    var e = $("login-error");
    e.textContent = message || "";
    e.hidden = !message;
  }

  function loginError(message) {
    var e = $("login-error");
    e.textContent = message;
    e.hidden = !message;
  }

  $("login").addEventListener("submit", function (ev) {
    ev.preventDefault();
    token = "";
    fetch("/admin/api/session", {
      method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: $("username").value.trim(), password: $("password").value })
    }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) { throw new ApiError(r.status, body); }
        return body;
      });
    }).then(function (principal) {
      $("password").value = "";
      loginError("");
      signedIn(principal);
    }, function (err) {
      loginError(err.status === 401 ? t("badSignIn") : err.status === 429 ? t("signInWait") : err.message || t("network"));
    });
  });

  $("token-login").addEventListener("submit", function (ev) {
    ev.preventDefault();
    token = $("token").value.trim();
    api("/admin/api/session").then(function (principal) {
      sessionStorage.setItem("hm_admin_token", token);
      $("token").value = "";
      loginError("");
      signedIn(principal);
    }, function (err) {
      token = "";
      loginError(err.status === 401 ? t("badToken") : err.message);
    });
  });
  $("logout").addEventListener("click", function () { logout(""); });
  $("lang").addEventListener("click", function () {
    lang = lang === "zh" ? "en" : "zh";
    localStorage.setItem("hm_admin_lang", lang);
    applyText();
    if (state.view !== "login") { show(state.view); }
  });
  Array.prototype.forEach.call(document.querySelectorAll("#nav button"), function (b) {
    b.addEventListener("click", function () { show(b.getAttribute("data-view")); });
  });

  // ---- group health ---------------------------------------------------------------------------

  function countdown(seconds) {
    if (seconds === null || seconds === undefined) { return t("never"); }
    if (seconds <= 0) { return t("expired"); }
    var d = Math.floor(seconds / 86400), h = Math.floor((seconds % 86400) / 3600), m = Math.floor((seconds % 3600) / 60);
    if (d) { return d + t("days") + " " + h + t("hours"); }
    if (h) { return h + t("hours") + " " + m + t("minutes"); }
    return m + t("minutes");
  }

  function fillCell(value, max, fill, title) {
    if (value === null || value === undefined) { return el("td", { class: "num", text: "–" }); }
    return el("td", { class: "num", title: title || "" }, [
      el("meter", { min: "0", max: "1", low: "0.7", high: "0.9", optimum: "0", value: String(fill === null ? 0 : Math.min(1, fill)) }),
      " " + num(value) + " / " + num(max)
    ]);
  }

  // Displays shown to customers against the cap; what workers leased ahead is in the tooltip.
  function displaysCell(g) {
    return fillCell(g.displays_shown, g.display_cap, g.display_fill, t("leased").replace("{n}", num(g.displays_leased)));
  }

  function card(label, value, cls) {
    return el("div", { class: cls || "" }, [el("b", { text: num(value) }), el("span", { text: label })]);
  }

  function loadHealth() {
    var q = "?status=" + encodeURIComponent($("h-status").value) + "&limit=" + PAGE + "&offset=" + state.healthOffset;
    if ($("h-city").value.trim()) { q += "&city=" + encodeURIComponent($("h-city").value.trim()); }
    if ($("h-region").value.trim()) { q += "&region=" + encodeURIComponent($("h-region").value.trim()); }
    if ($("h-q").value.trim()) { q += "&q=" + encodeURIComponent($("h-q").value.trim()); }
    api("/admin/api/health" + q).then(drawHealth, failed);
  }

  function drawHealth(body) {
    var s = body.summary, box = $("health-summary");
    clear(box);
    box.appendChild(card(t("stores"), s.stores));
    box.appendChild(card(t("low"), s.low, s.low ? "warn" : ""));
    box.appendChild(card(t("onFallback"), s.on_fallback, s.on_fallback ? "bad" : ""));
    var tbody = $("health-table").tBodies[0];
    clear(tbody);
    body.stores.forEach(function (st) {
      var g = st.active_group;
      var tr = el("tr", { class: "store", "data-store": st.store_id, onclick: function () { toggleStore(st, tr); } }, [
        el("td", {}, [el("b", { text: st.store_id }), " " + st.name]),
        el("td", { text: st.city }),
        el("td", { class: "num", text: num(st.usable) }),
        el("td", {}, [el("span", { class: "badge " + st.status, text: t(st.status === "fallback" ? "fallback" : st.status === "low" ? "low" : "ok") })]),
        el("td", { text: g ? g.group_id + " " + g.name : t("none") }),
        g ? fillCell(g.member_count, g.capacity, g.member_fill) : el("td", { text: "–" }),
        g ? displaysCell(g) : el("td", { text: "–" }),
        el("td", { text: g ? countdown(g.expires_in_s) : "–" })
      ]);
      tbody.appendChild(tr);
      if (state.openStore === st.store_id) { toggleStore(st, tr); }
    });
    // A search that finds nothing says so (not an empty table).
    if (!body.stores.length) {
      tbody.appendChild(el("tr", { class: "empty", id: "health-empty" }, [el("td", { colspan: "8", class: "hint", text: t("noneFound") })]));
    }
    pager($("health-pager"), body.total, state.healthOffset, function (offset) { state.healthOffset = offset; loadHealth(); });
  }

  function toggleStore(st, tr) {
    var next = tr.nextSibling;
    if (next && next.className === "detail") {
      next.remove();
      state.openStore = null;
      return;
    }
    state.openStore = st.store_id;
    api("/admin/api/stores/" + encodeURIComponent(st.store_id) + "/groups").then(function (body) {
      var rows = body.groups.map(function (g, i) {
        var actions = el("td", {});
        var wecom = g.source === "wecom";
        if (g.kind === "group") {
          if (g.state === "retired") {
            actions.appendChild(el("button", { type: "button", class: "small", text: t("restore"), onclick: function () { act("/admin/api/groups/" + encodeURIComponent(g.group_id) + "/restore", "POST"); } }));
          } else {
            actions.appendChild(el("button", { type: "button", class: "small danger", text: t("retire"), onclick: function () { act("/admin/api/groups/" + encodeURIComponent(g.group_id) + "/retire", "POST"); } }));
            if (i > 0) {
              actions.appendChild(el("button", { type: "button", class: "small", text: t("top"), onclick: function () {
                act("/admin/api/stores/" + encodeURIComponent(st.store_id) + "/order", "PUT", { group_ids: [g.group_id] });
              } }));
            }
            if (!wecom) actions.appendChild(el("button", { type: "button", class: "small", text: t("setMembers"), onclick: function () {
              var v = window.prompt(t("membersPrompt", { g: g.group_id }), g.member_count === null ? "" : String(g.member_count));
              if (v !== null && v.trim() !== "") {
                act("/admin/api/groups/" + encodeURIComponent(g.group_id) + "/member-count", "POST", { member_count: Number(v) });
              }
            } }));
          }
        }
        return el("tr", { "data-group": g.group_id, "data-kind": g.kind, "data-source": g.source, "data-state": g.state }, [
          el("td", { text: g.group_id + " " + g.name }),
          el("td", {}, [el("span", { class: "badge " + g.state, text: g.kind === "fallback" ? t("fallback") : t(g.state) })]),
          fillCell(g.member_count, g.capacity, g.member_fill),
          g.kind === "group" && !wecom ? displaysCell(g) : el("td", { text: "–" }),
          el("td", { text: g.kind === "group" ? countdown(g.expires_in_s) : "–" }),
          actions
        ]);
      });
      var table = el("table", { class: "grid" }, [
        el("thead", {}, [el("tr", {}, [t("group"), t("state"), t("members"), t("displays"), t("expires"), t("actions")].map(function (h) { return el("th", { text: h }); }))]),
        el("tbody", {}, rows)
      ]);
      var old = tr.nextSibling;
      if (old && old.className === "detail") { old.remove(); }
      var cell = el("td", { colspan: "8" }, [el("h2", { text: t("groupsOf", { s: st.store_id + " " + st.name }) }), table]);
      tr.parentNode.insertBefore(el("tr", { class: "detail" }, [cell]), tr.nextSibling);
      EXTENSIONS.forEach(function (x) { if (x.storeDetail) { x.storeDetail(st.store_id, cell, helpers()); } });
      // Other screens (pictures.js) add their own controls to a store's groups.
      document.dispatchEvent(new CustomEvent("huoma:store-groups", { detail: { storeId: st.store_id, storeName: st.name, cell: cell, groups: body.groups } }));
      if (body.wecom === "on") { showJoinWay(st.store_id, cell); }
      if (body.wecom === "off") {
        cell.appendChild(el("div", { class: "wecom" }, [
          el("button", { type: "button", class: "small wecom-use", text: t("wecomUse"), onclick: function () { giveChats(st.store_id); } })
        ]));
      }
    }, failed);
  }

  // A WeCom store: its join way (state, QR link, last sync) and its customer groups.
  function showJoinWay(storeId, cell) {
    api("/admin/api/stores/" + encodeURIComponent(storeId) + "/wecom").then(function (w) {
      var facts = el("p", { class: "meta", text: t("wecomState") + " " + w.state + " · " + t("wecomSynced") + " " + when(w.synced_at) });
      var parts = [el("h3", { text: t("wecomTitle") }), facts];
      if (w.sync_error) { parts.push(el("p", { class: "warn", text: t("wecomError", { m: w.sync_error }) })); }
      if (w.qr_code) { parts.push(el("p", { class: "meta", text: t("wecomCode") + " " + w.qr_code })); }
      var rows = w.chats.map(function (c) {
        var notes = [];
        if (c.in_join_way) { notes.push(t("wecomInWay")); }
        if (c.adopted) { notes.push(t("wecomAdopted")); }
        if (c.dismissed) { notes.push(t("wecomDismissed")); }
        return el("tr", {}, [el("td", { text: c.chat_id }), el("td", { class: "num", text: num(c.member_count) }), el("td", { text: notes.join(" · ") })]);
      });
      parts.push(el("table", { class: "grid wecom-chats" }, [
        el("thead", {}, [el("tr", {}, [t("wecomChat"), t("members"), ""].map(function (h) { return el("th", { text: h }); }))]),
        el("tbody", {}, rows)
      ]));
      parts.push(el("p", {}, [
        el("button", { type: "button", class: "small wecom-add", text: t("wecomAdd"), onclick: function () { giveChats(storeId); } }),
        el("button", { type: "button", class: "small danger wecom-stop", text: t("wecomStop"), onclick: function () {
          if (window.confirm(t("wecomStopConfirm", { s: storeId }))) { act(wecomPath(storeId), "DELETE"); }
        } })
      ]));
      cell.appendChild(el("div", { class: "wecom" }, parts));
    }, failed);
  }

  function wecomPath(storeId) { return "/admin/api/stores/" + encodeURIComponent(storeId) + "/wecom"; }

  // WeCom has no API to open a customer group: ops open one in the WeCom app and give its chat id.
  function giveChats(storeId) {
    var v = window.prompt(t("wecomChatsPrompt", { s: storeId }), "");
    var chats = (v || "").split(/[\s,，]+/).filter(function (c) { return c; });
    if (chats.length) { act(wecomPath(storeId), "PUT", { chat_ids: chats }); }
  }

  function act(path, method, body) {
    var options = { method: method };
    if (body) { options.body = JSON.stringify(body); options.headers = { "Content-Type": "application/json" }; }
    api(path, options).then(function () { flash(t("saved")); loadHealth(); }, failed);
  }

  function pager(box, total, offset, go) {
    clear(box);
    if (!total) { return; }
    box.appendChild(el("button", { type: "button", class: "small", text: t("prev"), disabled: offset <= 0 ? "disabled" : null, onclick: function () { go(Math.max(0, offset - PAGE)); } }));
    box.appendChild(el("span", { text: t("page", { a: offset + 1, b: Math.min(total, offset + PAGE), n: total }) }));
    box.appendChild(el("button", { type: "button", class: "small", text: t("next"), disabled: offset + PAGE >= total ? "disabled" : null, onclick: function () { go(offset + PAGE); } }));
  }

  $("health-filter").addEventListener("submit", function (ev) { ev.preventDefault(); state.healthOffset = 0; loadHealth(); });

  // ---- uploads --------------------------------------------------------------------------------

  function drawDownloads() {
    var tbody = $("downloads").tBodies[0];
    clear(tbody);
    KINDS.forEach(function (kind) {
      var label = t("kind" + kind.charAt(0).toUpperCase() + kind.slice(1));
      function links(prefix, name) {
        return el("td", {}, ["xlsx", "csv", "json"].map(function (fmt) {
          return el("button", { type: "button", class: "link", text: fmt.toUpperCase(), onclick: function () {
            // A template in the page's language (an XLSX explains its columns on a sheet).
            var q = prefix === "templates" ? "?lang=" + lang : "";
            download("/admin/api/" + prefix + "/" + kind + "." + fmt + q, name + "." + fmt);
          } });
        }));
      }
      tbody.appendChild(el("tr", {}, [el("th", { text: label }), el("td", { text: t("template") }), links("templates", "huoma-" + kind + "-template"), el("td", { text: t("exportNow") }), links("exports", "huoma-" + kind)]));
    });
  }

  var ENCODING_NAMES = { "utf-8": "UTF-8", gb18030: "GB18030", big5: "Big5", "utf-16": "UTF-16" };

  // What the server read, before anything is written: a file decoded in the wrong encoding
  // shows as gibberish here rather than on customers' phones.
  function drawPreview(result, s, encoding) {
    var n = s.preview.rows.length, cols = s.preview.columns;
    var note = s.encoding ? t("readAs", { f: String(s.format).toUpperCase(), e: ENCODING_NAMES[s.encoding] || s.encoding, how: t(encoding === "auto" ? "detected" : "chosen"), n: n })
      : t("readXlsx", { n: n });
    result.appendChild(el("p", { class: "read-as", id: "upload-encoding", text: note }));
    var rows = s.preview.rows.map(function (r) {
      return el("tr", {}, [el("td", { class: "num", text: String(r.row) })].concat(cols.map(function (c) {
        var v = r.values[c];
        return el("td", { text: v === undefined ? "" : v, title: v === undefined ? null : v });
      })));
    });
    result.appendChild(el("div", { class: "preview" }, [el("table", { class: "grid", id: "upload-preview" }, [
      el("caption", { text: t("previewTitle", { n: n }) }),
      el("thead", {}, [el("tr", {}, [el("th", { class: "num", text: t("row") })].concat(cols.map(function (c) { return el("th", { text: c }); })))]),
      el("tbody", {}, rows)
    ])]));
  }

  function upload(dryRun) {
    var file = $("u-file").files[0];
    if (!file) { return; }
    var kind = $("u-kind").value;
    var result = $("u-result");
    clear(result);
    $("u-commit").disabled = true;
    var encoding = $("u-encoding").value;
    var path = "/admin/api/uploads/" + kind + "?filename=" + encodeURIComponent(file.name) + (dryRun ? "&dry_run=1" : "") +
      (encoding !== "auto" ? "&encoding=" + encodeURIComponent(encoding) : "") + "&lang=" + lang +
      ($("u-coord").value ? "&coord=" + encodeURIComponent($("u-coord").value) : "");
    // The dry run's token accepts its warnings (the page asked first); a fresh dry run drops it.
    if (!dryRun && state.confirmToken) { path += "&confirm=" + encodeURIComponent(state.confirmToken); }
    if (dryRun) { state.confirmToken = null; }
    function page(offset, status) {
      var more = path + "&changes_offset=" + offset + (status ? "&changes=" + status : "");
      api(more, { method: "POST", body: file, headers: { "Content-Type": "application/octet-stream" } }).then(function (s) {
        window.HuomaReview.drawChanges(result, s, lang, page);
      }, failed);
    }
    api(path, { method: "POST", body: file, headers: { "Content-Type": "application/octet-stream" } }).then(function (s) {
      var args = { rows: num(s.rows), ins: num(s.inserted), upd: num(s.updated), same: num(s.unchanged) };
      // With warnings the dry run is not a plain "ready": they must be confirmed first.
      var warned = dryRun && s.warnings && s.warnings.length;
      args.w = warned ? num(s.warnings.length) : "0";
      result.appendChild(el("p", { class: warned ? "warned" : "ok", id: "upload-outcome", text: t(warned ? "dryOkWarned" : dryRun ? "dryOk" : "imported", args) }));
      $("u-commit").disabled = !dryRun;
      if (dryRun) { state.confirmToken = s.confirm_token; }
      window.HuomaReview.drawWarnings(result, s, lang, $("u-commit"));
      if (s.ignored_columns.length) { result.appendChild(el("p", { class: "hint", text: t("ignored", { c: s.ignored_columns.join(", ") }) })); }
      window.HuomaUploads.drawMapping(result, s, lang);
      window.HuomaReview.drawChanges(result, s, lang, page);
      if (s.preview) { drawPreview(result, s, encoding); }
    }, function (err) {
      if (err.status === 401 || err.status === 403) { failed(err); return; }
      if (!err.errors.length) { result.appendChild(el("p", { class: "error", text: err.message })); return; }
      result.appendChild(el("p", { class: "error", text: t("rejected", { n: err.errors.length + err.more }) }));
      var rows = err.errors.map(function (e) {
        return el("tr", {}, [el("td", { class: "num", text: e.row ? String(e.row) : t("wholeFile") }), el("td", { text: e.column }), el("td", { text: e.value }), el("td", { text: e.message })]);
      });
      // Repeated problems once each; the row-by-row table then folds away beneath them.
      var perRow = window.HuomaUploads.drawGrouped(result, err.grouped, err.errors.length, lang) || result;
      perRow.appendChild(el("div", { class: "errors" }, [el("table", { class: "grid", id: "upload-errors" }, [
        el("thead", {}, [el("tr", {}, [t("row"), t("column"), t("value"), t("problem")].map(function (h) { return el("th", { text: h }); }))]),
        el("tbody", {}, rows)
      ])]));
      if (err.more) { result.appendChild(el("p", { class: "hint", text: t("more", { n: err.more }) })); }
    });
  }

  $("upload").addEventListener("submit", function (ev) { ev.preventDefault(); upload(true); });
  $("u-commit").addEventListener("click", function () { upload(false); });
  $("u-file").addEventListener("change", function () { $("u-commit").disabled = true; clear($("u-result")); });
  $("u-kind").addEventListener("change", function () { $("u-commit").disabled = true; clear($("u-result")); });
  $("u-encoding").addEventListener("change", function () { $("u-commit").disabled = true; clear($("u-result")); });
  $("u-coord").addEventListener("change", function () { $("u-commit").disabled = true; clear($("u-result")); });

  // ---- alerts ---------------------------------------------------------------------------------

  function loadAlerts() {
    api("/admin/api/alerts?limit=200&open=" + ($("a-open").checked ? "1" : "0")).then(function (body) {
      var tbody = $("alerts-table").tBodies[0];
      clear(tbody);
      if (!body.alerts.length) { tbody.appendChild(el("tr", {}, [el("td", { colspan: "6", text: t("empty") })])); }
      body.alerts.forEach(function (a) {
        tbody.appendChild(el("tr", {}, [
          el("td", { text: when(a.created_at) }),
          el("td", { text: t(a.kind) }),
          el("td", { text: (a.store_id || "") + " " + (a.store_name || "") }),
          el("td", { text: a.message }),
          el("td", {}, [el("span", { class: "badge " + a.delivery, text: t(a.delivery) })]),
          el("td", { text: a.resolved_at ? when(a.resolved_at) : t("no") })
        ]));
      });
    }, failed);
  }
  $("alerts-filter").addEventListener("submit", function (ev) { ev.preventDefault(); loadAlerts(); });

  // ---- entry codes ----------------------------------------------------------------------------

  function loadEntries() {
    api("/admin/api/entries?limit=100").then(function (body) {
      var box = $("entries");
      clear(box);
      body.entries.forEach(function (e) {
        var img = el("img", { alt: e.url, width: "160", height: "160" });
        blobUrl(e.qr_png).then(function (u) { img.src = u; }, failed);
        var kind = e.kind === "store" ? t("pinned", { s: e.store_id + " " + (e.store_name || "") }) : t(e.kind);
        box.appendChild(el("div", { class: "entry", "data-code": e.code }, [
          el("code", { text: e.code }), " ", el("span", { class: "badge", text: kind }),
          el("div", { class: "hint", text: e.label || "" }),
          img,
          el("div", { class: "hint", text: e.url }),
          el("div", { class: "links" }, [
            el("button", { type: "button", class: "link", text: "PNG", onclick: function () { download(e.qr_png, "huoma-entry-" + e.code + ".png"); } }),
            el("button", { type: "button", class: "link", text: "SVG", onclick: function () { download(e.qr_svg, "huoma-entry-" + e.code + ".svg"); } })
          ])
        ]));
        // Screens in their own files add to each code (brand.js: campaign copy, print sheets).
        EXTENSIONS.forEach(function (x) { if (x.entryDetail) { x.entryDetail(e, box.lastChild, helpers()); } });
      });
    }, failed);
  }

  $("entry-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var body = { kind: $("e-kind").value, label: $("e-label").value.trim() };
    if ($("e-store").value.trim()) { body.store_id = $("e-store").value.trim(); }
    if ($("e-code").value.trim()) { body.code = $("e-code").value.trim(); }
    api("/admin/api/entries", { method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json" } }).then(function (e) {
      $("e-error").hidden = true;
      ["e-store", "e-label", "e-code"].forEach(function (id) { $(id).value = ""; });
      flash(t("created", { c: e.code }));
      loadEntries();
    }, function (err) {
      if (err.status === 401 || err.status === 403) { failed(err); return; }
      $("e-error").textContent = err.message;
      $("e-error").hidden = false;
    });
  });

  // ---- the funnel -----------------------------------------------------------------------------

  function isoDay(d) {
    // A calendar day as YYYY-MM-DD, from a Date made at local midnight of that day.
    var z = new Date(d.getTime() - d.getTimezoneOffset() * 60000);
    return z.toISOString().slice(0, 10);
  }

  function funnelQuery(by) {
    // Without dates the server picks them (the last 7 days in its time zone, not the browser's).
    var q = "?by=" + encodeURIComponent(by);
    if ($("f-from").value) { q += "&from=" + $("f-from").value; }
    if ($("f-to").value) { q += "&to=" + $("f-to").value; }
    if ($("f-store").value.trim()) { q += "&store=" + encodeURIComponent($("f-store").value.trim()); }
    return q;
  }

  function loadFunnel() {
    var by = $("f-by").value;
    api("/admin/api/funnel" + funnelQuery(by) + "&limit=" + PAGE + "&offset=" + state.funnelOffset).then(function (body) {
      $("f-from").value = body.from;
      $("f-to").value = body.to;
      drawTotals(body.totals);
      drawFunnelTable(body);
      return api("/admin/api/funnel" + funnelQuery("day") + "&limit=366");
    }).then(drawChart, failed);
  }

  function drawTotals(tot) {
    var box = $("funnel-totals");
    clear(box);
    STEPS.concat(["visitors", "ok", "fallback", "no_store_nearby", "bad_input", "repeats", "renewals"]).forEach(function (m) {
      var c = card(t(m), tot[m], m === "bad_input" && tot[m] ? "warn" : STEPS.indexOf(m) >= 0 ? "step" : "");
      c.setAttribute("data-measure", m);
      box.appendChild(c);
    });
  }

  function drawFunnelTable(body) {
    var table = $("funnel-table");
    var dims = [];
    body.by.forEach(function (d) { if (d === "store") { dims.push("store"); } else { dims.push(d); } });
    clear(table.tHead);
    clear(table.tBodies[0]);
    table.tHead.appendChild(el("tr", {}, dims.map(function (d) { return el("th", { text: t(d) }); }).concat(MEASURES.map(function (m) { return el("th", { class: "num", text: t(m) }); }))));
    body.rows.forEach(function (r) {
      var cells = dims.map(function (d) {
        if (d === "store") { return el("td", { text: r.store_id ? r.store_id + " " + (r.store_name || "") : t("empty") }); }
        if (d === "entry") { return el("td", { text: r.entry || t("empty") }); }
        return el("td", { text: r.day });
      });
      table.tBodies[0].appendChild(el("tr", {}, cells.concat(MEASURES.map(function (m) { return el("td", { class: "num", text: num(r[m]) }); }))));
    });
    pager($("funnel-pager"), body.total_rows, state.funnelOffset, function (offset) { state.funnelOffset = offset; loadFunnel(); });
  }

  var SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, text) {
    var n = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (k) { n.setAttribute(k, attrs[k]); });
    if (text !== undefined) { n.textContent = text; }
    return n;
  }

  function drawChart(body) {
    var chart = $("chart");
    clear(chart);
    $("chart-title").textContent = t("chartTitle") + " (" + body.from + " – " + body.to + ")";
    var byDay = {};
    body.rows.forEach(function (r) { byDay[r.day] = r; });
    var days = [];
    for (var d = new Date(body.from + "T00:00:00"); isoDay(d) <= body.to; d = new Date(d.getTime() + 86400000)) { days.push(isoDay(d)); }
    var max = 0;
    days.forEach(function (day) { if (byDay[day]) { max = Math.max(max, byDay[day].scans); } });
    var left = 48, top = 12, width = 760 - left - 12, height = 180;
    chart.appendChild(svg("line", { class: "axis", x1: left, y1: top + height, x2: left + width, y2: top + height }));
    if (!max) {
      chart.appendChild(svg("text", { x: left + width / 2, y: top + height / 2, "text-anchor": "middle" }, t("noData")));
      return;
    }
    chart.appendChild(svg("text", { x: left - 6, y: top + 10, "text-anchor": "end" }, num(max)));
    chart.appendChild(svg("text", { x: left - 6, y: top + height, "text-anchor": "end" }, "0"));
    var slot = width / days.length, bar = Math.max(1, slot * 0.7);
    var parts = [["ok", "bar-ok"], ["fallback", "bar-fallback"], ["no_store_nearby", "bar-nearby"], ["no_location", "bar-noloc"], ["no_group", "bar-noloc"], ["bad_input", "bar-bad"]];
    days.forEach(function (day, i) {
      var r = byDay[day], y = top + height, x = left + i * slot + (slot - bar) / 2;
      if (r) {
        parts.forEach(function (p) {
          var h = (r[p[0]] / max) * height;
          if (h > 0) {
            y -= h;
            var rect = svg("rect", { class: p[1], x: x.toFixed(1), y: y.toFixed(1), width: bar.toFixed(1), height: h.toFixed(1) });
            rect.appendChild(svg("title", {}, day + " " + t(p[0]) + ": " + num(r[p[0]])));
            chart.appendChild(rect);
          }
        });
      }
      var every = Math.ceil(days.length / 10);
      if (i % every === 0) {
        chart.appendChild(svg("text", { x: (left + i * slot + slot / 2).toFixed(1), y: top + height + 16, "text-anchor": "middle" }, day.slice(5)));
      }
    });
    var lx = left;
    parts.slice(0, 4).concat([parts[5]]).forEach(function (p) {
      chart.appendChild(svg("rect", { class: "key " + p[1], x: lx, y: 222, width: 10, height: 10 }));
      chart.appendChild(svg("text", { x: lx + 14, y: 231 }, t(p[0])));
      lx += 120;
    });
  }

  $("funnel-filter").addEventListener("submit", function (ev) { ev.preventDefault(); state.funnelOffset = 0; loadFunnel(); });
  $("f-csv").addEventListener("click", function () {
    download("/admin/api/funnel.csv" + funnelQuery($("f-by").value), "huoma-funnel-" + $("f-from").value + "-" + $("f-to").value + ".csv");
  });

  // What the screens in other files use of this one.
  function helpers() {
    return { $: $, t: t, el: el, clear: clear, when: when, num: num, api: api, failed: failed, flash: flash, pager: pager, PAGE: PAGE, lang: lang, download: download };
  }

  // ---- start ----------------------------------------------------------------------------------

  // What other screens (accounts.js) use of this one.
  window.huomaAdmin = {
    api: api, failed: failed, flash: flash, el: el, clear: clear, when: when, $: $,
    lang: function () { return lang; }, me: function () { return me; },
    request: request  // links.js: a POST answered with a file, a PNG shown in the page
  };

  applyText();
  // A session cookie (HttpOnly: not readable here) or a token of this tab: ask who we are.
  api("/admin/api/session").then(signedIn, function () {
    token = "";
    sessionStorage.removeItem("hm_admin_token");
    show("login");
  });
})();
