/* Huoma ops console: the accounts screen (admins create, disable, enable and reset accounts).
   Loaded before admin.js, which merges window.huomaText into its words and calls
   window.huomaViews.accounts when the screen is shown; admin.js's helpers are window.huomaAdmin. */
(function () {
  "use strict";

  window.huomaText = {
    zh: {
      navAccounts: "账号", newAccount: "新建账号", initialPassword: "初始密码", role: "角色",
      regions: "地区（逗号分隔，空为全部）", regionsPlaceholder: "如：上海, 杭州", accountState: "状态",
      lastSignIn: "最近登录", actions: "操作", enabled: "启用", disabled: "已停用",
      disable: "停用", enable: "启用", resetPassword: "重置密码",
      resetPrompt: "{u} 的新密码（至少 10 个字符）：", accountCreated: "已创建账号 {u}",
      accountChanged: "已修改账号 {u}",
      rolesHint: "管理员：账号、设置与一切；编辑：上传、群、入口码；只读：群健康、告警、漏斗与导出。限定地区的账号只看到、只能改这些地区的门店（门店的地区，没有则为城市）。"
    },
    en: {
      navAccounts: "Accounts", newAccount: "New account", initialPassword: "First password", role: "Role",
      regions: "Regions (comma-separated; empty: all)", regionsPlaceholder: "e.g. 上海, 杭州", accountState: "State",
      lastSignIn: "Last sign-in", actions: "Actions", enabled: "Enabled", disabled: "Disabled",
      disable: "Disable", enable: "Enable", resetPassword: "Reset password",
      resetPrompt: "New password for {u} (10 characters or more):", accountCreated: "Created account {u}",
      accountChanged: "Changed account {u}",
      rolesHint: "Admin: accounts, settings, everything. Editor: uploads, groups, entry codes. Viewer: group health, alerts, funnel, exports. An account limited to regions sees and changes only those regions' stores (a store's region, else its city)."
    }
  };

  function words(key, args) {
    var lang = window.huomaAdmin.lang();
    var s = window.huomaText[lang][key] || key;
    Object.keys(args || {}).forEach(function (k) { s = s.split("{" + k + "}").join(args[k]); });
    return s;
  }

  function roleName(role) {
    var option = document.querySelector("#a-role option[value=\"" + role + "\"]");
    return option ? option.textContent : role;
  }

  function patch(username, body) {
    var h = window.huomaAdmin;
    return h.api("/admin/api/accounts/" + encodeURIComponent(username), {
      method: "PATCH", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body)
    }).then(function () {
      h.flash(words("accountChanged", { u: username }));
      load();
    }, h.failed);
  }

  function row(a) {
    var h = window.huomaAdmin, el = h.el;
    var me = h.me();
    var self = me && me.actor === a.username;
    var toggle = el("button", {
      type: "button", class: a.disabled ? "small" : "small danger",
      text: a.disabled ? words("enable") : words("disable"), disabled: self ? "disabled" : null,
      onclick: function () { patch(a.username, { disabled: !a.disabled }); }
    });
    var reset = el("button", {
      type: "button", class: "small", text: words("resetPassword"),
      onclick: function () {
        var password = window.prompt(words("resetPrompt", { u: a.username }));
        if (password) { patch(a.username, { password: password }); }
      }
    });
    return el("tr", { "data-username": a.username }, [
      el("td", {}, [el("code", { text: a.username })]),
      el("td", { text: roleName(a.role) }),
      el("td", { text: a.regions.length ? a.regions.join("、") : "–" }),
      el("td", {}, [el("span", { class: a.disabled ? "badge off" : "badge", text: a.disabled ? words("disabled") : words("enabled") })]),
      el("td", { text: h.when(a.last_signin_at) }),
      el("td", {}, [toggle, " ", reset])
    ]);
  }

  function load() {
    var h = window.huomaAdmin;
    h.api("/admin/api/accounts").then(function (body) {
      var tbody = h.$("accounts-table").querySelector("tbody");
      h.clear(tbody);
      body.accounts.forEach(function (a) { tbody.appendChild(row(a)); });
    }, h.failed);
  }

  function create(ev) {
    ev.preventDefault();
    var h = window.huomaAdmin, $ = h.$;
    var username = $("a-username").value.trim();
    var regions = $("a-regions").value.split(/[,，、\s]+/).map(function (r) { return r.trim(); }).filter(Boolean);
    h.api("/admin/api/accounts", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: username, password: $("a-password").value, role: $("a-role").value, regions: regions })
    }).then(function () {
      $("a-error").hidden = true;
      $("account-form").reset();
      h.flash(words("accountCreated", { u: username }));
      load();
    }, function (err) {
      if (err.status === 401) { h.failed(err); return; }
      $("a-error").textContent = err.message;
      $("a-error").hidden = false;
    });
  }

  window.huomaViews = window.huomaViews || {};
  window.huomaViews.accounts = function () {
    var form = document.getElementById("account-form");
    if (!form.getAttribute("data-ready")) {
      form.setAttribute("data-ready", "1");
      form.addEventListener("submit", create);
    }
    load();
  };
})();
