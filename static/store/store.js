// A store's own page: its groups, a new code from a picture, "this group is full".
// The link's token is in the fragment (#t=...): it never reaches a server log or a Referer.
"use strict";
(function () {
  var token = new URLSearchParams(location.hash.slice(1)).get("t") || "";
  var $ = function (id) { return document.getElementById(id); };
  var en = !/^zh/i.test(navigator.language || "zh");
  function t(zh, english) { return en ? english : zh; }

  function status(text, error) {
    var el = $("status");
    el.textContent = text;
    el.className = error ? "status error" : "status";
  }

  function call(method, path, body) {
    return fetch("/admin/api/link" + path, {
      method: method,
      headers: { Authorization: "StoreLink " + token },
      body: body || null,
    }).then(function (r) {
      return r.json().then(function (data) {
        if (!r.ok) { throw new Error((data.error && data.error.message) || r.status); }
        return data;
      });
    });
  }

  var STATES = {
    active: ["使用中", "in use"], standby: ["备用", "standby"], full: ["已满", "full"],
    expired: ["已过期", "expired"],
  };

  function facts(g) {
    var parts = [];
    if (g.member_count !== null) { parts.push(t("成员 ", "members ") + g.member_count + "/" + g.capacity); }
    if (g.days_left !== null) { parts.push(t("剩余 " + g.days_left + " 天", g.days_left + " days left")); }
    parts.push(t("已展示 ", "shown ") + g.displays_shown + t(" 次", " times"));
    var state = STATES[g.state] || [g.state, g.state];
    parts.push(t(state[0], state[1]));
    return parts.join(" · ");
  }

  function render(data) {
    $("name").textContent = data.name;
    $("banner").hidden = !data.expiring_soon;
    $("banner").textContent = t(
      "有群二维码将在 " + data.expiry_warning_h + " 小时内过期，请上传新码。",
      "A group code expires within " + data.expiry_warning_h + " hours: upload its new code.");
    $("link-expiry").textContent = t("本链接有效期至 ", "This link works until ") +
      data.link_expires_at.slice(0, 10);
    var list = $("groups");
    list.textContent = "";
    data.groups.forEach(function (g) {
      var li = document.createElement("li");
      li.className = "group";
      li.dataset.group = g.group_id;
      var h = document.createElement("h2");
      h.textContent = g.name;
      var p = document.createElement("p");
      p.className = "facts" + (g.expires_soon ? " soon" : "");
      p.textContent = facts(g);
      var actions = document.createElement("div");
      actions.className = "actions";
      var label = document.createElement("label");
      label.className = "upload";
      label.textContent = t("上传新码", "Upload new code");
      var input = document.createElement("input");
      input.type = "file";
      input.accept = "image/*";
      input.setAttribute("capture", "environment");
      input.addEventListener("change", function () {
        if (!input.files || !input.files[0]) { return; }
        var form = new FormData();
        form.append("picture", input.files[0], input.files[0].name || "code.png");
        status(t("正在上传…", "Uploading…"));
        call("POST", "/groups/" + encodeURIComponent(g.group_id) + "/code", form)
          .then(load)
          .then(function () { status(t("新码已生效", "The new code is live")); })
          .catch(function (e) { status(e.message, true); });
        input.value = "";
      });
      label.appendChild(input);
      var full = document.createElement("button");
      full.type = "button";
      full.className = "full";
      full.textContent = t("此群已满", "This group is full");
      full.addEventListener("click", function () {
        call("POST", "/groups/" + encodeURIComponent(g.group_id) + "/full")
          .then(load)
          .then(function () { status(t("已标记为满", "Marked full")); })
          .catch(function (e) { status(e.message, true); });
      });
      actions.appendChild(label);
      actions.appendChild(full);
      li.appendChild(h);
      li.appendChild(p);
      li.appendChild(actions);
      list.appendChild(li);
    });
  }

  function load() {
    return call("GET", "/store").then(render).catch(function (e) { status(e.message, true); });
  }

  if (!token) { status(t("链接不完整", "The link is incomplete"), true); return; }
  load();
})();
