/* Huoma ops console: the settings ops own (stored in the database, applied by every worker within
   seconds) and the audit trail (the whole list, and each store's changes in its detail row).
   Registers with admin.js, which loads after this file and hands over its helpers. */
(function () {
  "use strict";

  var TEXT = {
    zh: {
      navSettings: "设置", navAudit: "操作记录",
      settingsHint: "这里的设置保存在数据库中，几秒内对所有进程生效，无需重启；未设置时使用环境变量（HUOMA_*）的默认值。",
      fromDb: "运营设置", fromEnv: "环境变量默认值", defaultIs: "默认值（{e}）：{v}",
      changedBy: "{who} 于 {at} 修改", save: "保存", resetDefault: "恢复默认",
      hookName: "名称", hookUrl: "Webhook 地址", hookRegions: "区域或城市（逗号分隔，留空＝全部门店）",
      hookKeep: "留空则保留原地址", hookNow: "当前：{u}", addHook: "添加机器人", removeHook: "删除",
      coordNone: "不设默认（coord 必填）", noHooks: "未配置告警机器人：告警只记录不推送。",
      auAllKinds: "全部类型", au_upload: "上传", au_group: "群", au_store: "门店群顺序", au_entry: "入口码",
      au_wecom: "企业微信", au_setting: "设置", auActor: "操作人", auSummary: "变更",
      storeChanges: "变更记录", noChanges: "还没有变更记录",
      "upload.stores": "上传门店", "upload.groups": "上传群", "upload.fallbacks": "上传兜底",
      "upload.entries": "上传入口码", "group.member_count": "改成员数", "group.retire": "停用群",
      "group.restore": "恢复群", "store.order": "群排序", "entry.create": "新建入口码",
      "wecom.enable": "启用企业微信", "wecom.disable": "停用企业微信",
      "setting.change": "修改设置", "setting.reset": "恢复默认设置",
      "upload.group_pictures": "上传群二维码图片", "group.code_replace": "更换群二维码", "group.picture_add": "按图片新增群",
      "group.full": "标记群已满", "entry.campaign": "修改入口码活动", "store_link.issue": "生成门店链接",
      "store_link.revoke": "作废门店链接", "store_link.revoke_all": "作废全部门店链接", "print_job.create": "批量打印",
      "account.create": "新建账号", "account.change": "修改账号", "account.disable": "停用账号",
      "account.enable": "启用账号", "account.reset": "重置密码", "token.create": "新建令牌", "token.delete": "删除令牌",
      au_brand: "品牌", au_store_link: "门店链接", au_account: "账号", au_token: "令牌", au_print_job: "打印",
      dOld: "原", dNew: "新", dRows: "共 {rows} 行：新增 {inserted}，更新 {updated}，未变 {unchanged}",
      dStores: "{n} 家门店", dPictures: "{pictures} 张图片：新增群 {added}，换码 {replaced}",
      dRole: "角色 {r}，地区 {g}", dSize: "纸张 {s}", dUntil: "有效期至 {t}", dMembers: "成员数",
      dState: "状态", dOrder: "群顺序", dCampaign: "活动", dGeneration: "链接代数"
    },
    en: {
      navSettings: "Settings", navAudit: "Audit trail",
      settingsHint: "These settings live in the database and reach every worker within seconds, without a restart; unset, the environment's HUOMA_* default applies.",
      fromDb: "set by ops", fromEnv: "environment default", defaultIs: "Default ({e}): {v}",
      changedBy: "changed by {who} at {at}", save: "Save", resetDefault: "Reset to default",
      hookName: "Name", hookUrl: "Webhook URL", hookRegions: "Regions or cities (comma-separated; empty: every store)",
      hookKeep: "Leave empty to keep the current URL", hookNow: "Now: {u}", addHook: "Add a robot", removeHook: "Remove",
      coordNone: "No default (coord required)", noHooks: "No alert robot: alerts are recorded, not posted.",
      auAllKinds: "All kinds", au_upload: "Uploads", au_group: "Groups", au_store: "Group order", au_entry: "Entry codes",
      au_wecom: "WeCom", au_setting: "Settings", auActor: "Actor", auSummary: "Change",
      storeChanges: "Changes", noChanges: "No changes recorded yet",
      "upload.stores": "Store upload", "upload.groups": "Group upload", "upload.fallbacks": "Fallback upload",
      "upload.entries": "Entry upload", "group.member_count": "Member count", "group.retire": "Group retired",
      "group.restore": "Group restored", "store.order": "Group order", "entry.create": "Entry code created",
      "wecom.enable": "WeCom on", "wecom.disable": "WeCom off",
      "setting.change": "Setting changed", "setting.reset": "Setting reset",
      "upload.group_pictures": "Group picture upload", "group.code_replace": "Group code replaced", "group.picture_add": "Group added from picture",
      "group.full": "Group marked full", "entry.campaign": "Entry campaign", "store_link.issue": "Store links issued",
      "store_link.revoke": "Store links revoked", "store_link.revoke_all": "All store links revoked", "print_job.create": "Print job",
      "account.create": "Account created", "account.change": "Account changed", "account.disable": "Account disabled",
      "account.enable": "Account enabled", "account.reset": "Password reset", "token.create": "Token created", "token.delete": "Token deleted",
      au_brand: "Brand", au_store_link: "Store links", au_account: "Accounts", au_token: "Tokens", au_print_job: "Printing",
      dOld: "was", dNew: "now", dRows: "{rows} row(s): {inserted} new, {updated} updated, {unchanged} unchanged",
      dStores: "{n} store(s)", dPictures: "{pictures} picture(s): {added} group(s) added, {replaced} code(s) replaced",
      dRole: "role {r}, regions {g}", dSize: "size {s}", dUntil: "valid until {t}", dMembers: "Members",
      dState: "State", dOrder: "Group order", dCampaign: "Campaign", dGeneration: "Link generation"
    }
  };

  var auditOffset = 0;

  function show(v) {
    if (v === null || v === undefined || v === "") { return "–"; }
    return typeof v === "object" ? JSON.stringify(v) : String(v);
  }

  function send(h, name, method, value, box) {
    var options = { method: method };
    if (method === "PUT") {
      options.body = JSON.stringify({ value: value });
      options.headers = { "Content-Type": "application/json" };
    }
    h.api("/admin/api/settings/" + encodeURIComponent(name), options).then(function () {
      h.flash(h.t("saved"));
      loadSettings(h);
    }, function (err) {
      if (err.status === 401 || err.status === 403) { h.failed(err); return; }
      var e = box.querySelector(".error");
      e.textContent = err.message;
      e.hidden = false;
    });
  }

  function webhookEditor(h, s, box) {
    var rows = h.el("tbody", {});
    function addRow(w) {
      var tr = h.el("tr", { class: "hook" }, [
        h.el("td", {}, [h.el("input", { type: "text", class: "hook-name", maxlength: "50", value: w ? w.name : "" })]),
        h.el("td", {}, [
          h.el("input", { type: "url", class: "hook-url", placeholder: w ? h.t("hookKeep") : "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…" }),
          w ? h.el("div", { class: "hint hook-now", text: h.t("hookNow", { u: w.url }) }) : null
        ]),
        h.el("td", {}, [h.el("input", { type: "text", class: "hook-regions", value: w ? w.regions.join(", ") : "" })]),
        h.el("td", {}, [h.el("button", { type: "button", class: "small danger", text: h.t("removeHook"), onclick: function () { tr.remove(); } })])
      ]);
      rows.appendChild(tr);
    }
    s.value.forEach(addRow);
    var table = h.el("table", { class: "grid hooks" }, [
      h.el("thead", {}, [h.el("tr", {}, [h.t("hookName"), h.t("hookUrl"), h.t("hookRegions"), ""].map(function (x) { return h.el("th", { text: x }); }))]),
      rows
    ]);
    function value() {
      return Array.prototype.map.call(rows.querySelectorAll("tr.hook"), function (tr) {
        var url = tr.querySelector(".hook-url").value.trim();
        var item = {
          name: tr.querySelector(".hook-name").value.trim(),
          regions: tr.querySelector(".hook-regions").value.split(/[,，、\s]+/).filter(function (r) { return r; })
        };
        if (url) { item.url = url; }
        return item;
      });
    }
    return [
      s.value.length ? null : h.el("p", { class: "hint", text: h.t("noHooks") }),
      table,
      h.el("div", { class: "row" }, [
        h.el("button", { type: "button", class: "small", text: h.t("addHook"), onclick: function () { addRow(null); } }),
        h.el("button", { type: "button", class: "save", text: h.t("save"), onclick: function () { send(h, s.name, "PUT", value(), box); } })
      ])
    ];
  }

  function valueEditor(h, s, box) {
    var input;
    if (s.name === "upload_default_coord") {
      input = h.el("select", { class: "value" }, [
        // Each source once: gps and wgs84 are the same system, so a stored "wgs84" shows as GPS.
        ["", ""], ["amap", "高德地图 AMap"], ["tencent", "腾讯地图 Tencent"], ["baidu", "百度地图 Baidu"],
        ["gps", "GPS / WGS-84 / 谷歌地球 Google Earth"], ["gcj02", "GCJ-02（火星坐标）"], ["bd09", "BD-09"]
      ].map(function (pair) {
        var c = pair[0];
        var o = h.el("option", { value: c, text: pair[1] || h.t("coordNone") });
        if (c === s.value || (c === "gps" && s.value === "wgs84")) { o.selected = true; }
        return o;
      }));
    } else {
      input = h.el("input", { type: "number", class: "value", step: "any", min: "0", value: String(s.value) });
    }
    return [h.el("div", { class: "row" }, [
      input,
      h.el("button", { type: "button", class: "save", text: h.t("save"), onclick: function () {
        var v = input.tagName === "SELECT" ? input.value : (input.value.trim() === "" ? null : Number(input.value));
        send(h, s.name, "PUT", v, box);
      } })
    ])];
  }

  function loadSettings(h) {
    h.api("/admin/api/settings").then(function (body) {
      var list = h.$("settings-list");
      h.clear(list);
      // The brand's settings have a screen of their own (brand.js).
      body.settings.forEach(function (s) { settingLabels[s.name] = h.lang === "zh" ? s.label : s.meaning; });
      body.settings.filter(function (s) { return s.name.indexOf("brand_") !== 0; }).forEach(function (s) {
        var box = h.el("div", { class: "card setting", "data-setting": s.name });
        var fromDb = s.source === "database";
        box.appendChild(h.el("h2", {}, [
          h.lang === "zh" ? s.label : s.meaning, " ",
          h.el("span", { class: "badge " + (fromDb ? "active" : "standby"), text: fromDb ? h.t("fromDb") : h.t("fromEnv") })
        ]));
        // Chinese page: the Chinese label, then the Chinese meaning; English page: the English meaning.
        box.appendChild(h.el("p", { class: "hint meaning", text: (h.lang === "zh" ? (s.meaning_zh || s.label) : s.label) + " · " + s.name }));
        var editor = s.name === "alert_webhooks" ? webhookEditor(h, s, box) : valueEditor(h, s, box);
        editor.forEach(function (n) { if (n) { box.appendChild(n); } });
        var meta = h.t("defaultIs", { e: s.env, v: s.name === "alert_webhooks" ? s["default"].map(function (w) { return w.name + " " + w.url; }).join("; ") || h.t("empty") : show(s["default"]) });
        if (fromDb) { meta += " · " + h.t("changedBy", { who: s.updated_by, at: h.when(s.updated_at) }); }
        box.appendChild(h.el("p", { class: "hint meta", text: meta }));
        if (fromDb) {
          box.appendChild(h.el("button", { type: "button", class: "small secondary reset", text: h.t("resetDefault"), onclick: function () { send(h, s.name, "DELETE", null, box); } }));
        }
        box.appendChild(h.el("p", { class: "error", hidden: "hidden" }));
        list.appendChild(box);
      });
    }, h.failed);
  }

  function dayStart(value, plusDays) {
    if (!value) { return ""; }
    var d = new Date(value + "T00:00:00");
    d.setDate(d.getDate() + plusDays);
    return d.toISOString();
  }

  // A kind the page has no words for shows as recorded (a newer server may record more kinds).
  function kindLabel(h, kind) {
    var label = h.t(kind);
    return label === kind ? kind : label;
  }

  function brief(v) {
    if (v === null || v === undefined || v === "") { return "–"; }
    // A list of named things (alert robots) by their names.
    if (Array.isArray(v)) { return v.map(function (x) { return x && typeof x === "object" ? (x.name || JSON.stringify(x)) : String(x); }).join("、") || "–"; }
    return typeof v === "object" ? JSON.stringify(v) : String(v);
  }

  // The details of known kinds in the page's language; null where the details say too little
  // (the summary, as recorded, is shown instead).
  function describe(h, r, settingLabels) {
    var d = r.details || {};
    var family = r.kind.split(".")[0];
    var has = function (k) { return d[k] !== undefined && d[k] !== null; };
    var change = function (what) {
      return (what ? what + "：" : "") + brief(d.old) + " → " + brief(d["new"]);
    };
    if (family === "upload" && has("rows")) {
      var text = h.t("dRows", { rows: d.rows, inserted: d.inserted, updated: d.updated, unchanged: d.unchanged });
      return (r.target ? r.target + " · " : "") + text + (has("stores") && !r.store_id ? " · " + h.t("dStores", { n: d.stores }) : "");
    }
    if (r.kind === "upload.group_pictures" && has("pictures")) {
      return (r.target ? r.target + " · " : "") + h.t("dPictures", d);
    }
    if ((family === "setting") && has("old") && r.target) {
      return change(settingLabels[r.target] || r.target);
    }
    if (r.kind === "group.member_count" && has("old")) { return (r.target || "") + " " + change(h.t("dMembers")); }
    if ((r.kind === "group.retire" || r.kind === "group.restore") && has("old")) {
      return (r.target || "") + " " + h.t("dState") + "：" + h.t(d.old) + " → " + h.t(d["new"]);
    }
    if (r.kind === "store.order" && has("old")) { return change(h.t("dOrder")); }
    if (r.kind === "entry.campaign" && has("old")) { return (r.target || "") + " " + change(h.t("dCampaign")); }
    if ((r.kind === "store_link.revoke" || r.kind === "store_link.revoke_all") && has("old")) { return change(h.t("dGeneration")); }
    if (r.kind === "store_link.issue" && has("expires_at")) {
      return (has("stores") ? h.t("dStores", { n: d.stores }) + " · " : "") + h.t("dUntil", { t: h.when(d.expires_at) });
    }
    if (r.kind === "print_job.create" && has("size")) { return (r.target || "") + " " + h.t("dSize", { s: d.size }); }
    if ((family === "account" || family === "token") && has("role") && r.kind !== "account.change") {
      var roles = { admin: h.t("roleAdmin"), editor: h.t("roleEditor"), viewer: h.t("roleViewer") };
      return (r.target || "") + " · " + h.t("dRole", { r: roles[d.role] || d.role, g: (d.regions || []).length ? d.regions.join("、") : h.t("allRegions") });
    }
    return null;
  }

  var settingLabels = {};

  function auditRows(h, records, withStore) {
    return records.map(function (r) {
      var cells = [
        h.el("td", { text: h.when(r.at) }),
        h.el("td", { text: r.actor }),
        h.el("td", {}, [h.el("span", { class: "badge standby", title: r.kind, "data-kind": r.kind, text: kindLabel(h, r.kind) })])
      ];
      if (withStore) { cells.push(h.el("td", { text: r.store_id || "–" })); }
      var described = describe(h, r, settingLabels);
      // The recorded summary stays available (as a tooltip) where the page words it itself.
      cells.push(h.el("td", described === null ? { class: "summary", text: r.summary } : { class: "summary", title: r.summary, text: described }));
      return h.el("tr", { class: "audit" }, cells);
    });
  }

  // The audit trail names a setting by its label (the settings list has them; an admin reads both).
  function withSettingLabels(h, then) {
    if (Object.keys(settingLabels).length) { then(); return; }
    h.api("/admin/api/settings").then(function (body) {
      body.settings.forEach(function (s) { settingLabels[s.name] = h.lang === "zh" ? s.label : s.meaning; });
      then();
    }, function () { then(); });
  }

  function loadAudit(h) {
    var q = [["kind", h.$("au-kind").value], ["actor", h.$("au-actor").value.trim()], ["store", h.$("au-store").value.trim()],
      ["from", dayStart(h.$("au-from").value, 0)], ["to", dayStart(h.$("au-to").value, 1)]]
      .filter(function (p) { return p[1]; })
      .map(function (p) { return p[0] + "=" + encodeURIComponent(p[1]); });
    q.push("limit=" + h.PAGE, "offset=" + auditOffset);
    withSettingLabels(h, function () { h.api("/admin/api/audit?" + q.join("&")).then(function (body) {
      var tbody = h.$("audit-table").querySelector("tbody");
      h.clear(tbody);
      auditRows(h, body.records, true).forEach(function (tr) { tbody.appendChild(tr); });
      h.pager(h.$("audit-pager"), body.total, auditOffset, function (offset) { auditOffset = offset; loadAudit(h); });
    }, h.failed); });
  }

  var bound = false;
  function load(view, h) {
    if (view === "settings") { loadSettings(h); }
    if (view === "audit") {
      if (!bound) {
        bound = true;
        h.$("audit-filter").addEventListener("submit", function (ev) { ev.preventDefault(); auditOffset = 0; loadAudit(h); });
      }
      loadAudit(h);
    }
  }

  // In a store's detail row: its latest changes.
  function storeDetail(storeId, cell, h) {
    var box = h.el("div", { class: "store-audit" }, [h.el("h3", { text: h.t("storeChanges") })]);
    cell.appendChild(box);
    h.api("/admin/api/stores/" + encodeURIComponent(storeId) + "/audit?limit=20").then(function (body) {
      if (!body.records.length) { box.appendChild(h.el("p", { class: "hint", text: h.t("noChanges") })); return; }
      box.appendChild(h.el("table", { class: "grid" }, [
        h.el("thead", {}, [h.el("tr", {}, [h.t("time"), h.t("auActor"), h.t("kind"), h.t("auSummary")].map(function (x) { return h.el("th", { text: x }); }))]),
        h.el("tbody", {}, auditRows(h, body.records, false))
      ]));
    }, h.failed);
  }

  window.HuomaAdminExtensions = (window.HuomaAdminExtensions || []).concat([
    { views: ["settings", "audit"], text: TEXT, load: load, storeDetail: storeDetail }
  ]);
})();
