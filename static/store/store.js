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

  // Where a value came from, and where the expiry came from (router.ops.pictures).
  var SOURCES = {
    typed: ["填写", "typed"], ocr: ["从图片识别", "read from the picture"], stored: ["原有", "as before"],
  };
  var EXPIRY = {
    expires_at: ["填写的过期时间", "the expiry typed"],
    validity_line: ["图片上的有效期文字", "the card's validity line"],
    qr_created_at: ["二维码生成时间 + 7 天", "the code's creation time + 7 days"],
    exif: ["照片拍摄时间 + 7 天", "the photo's capture time + 7 days"],
    upload: ["上传时间 + 7 天（图片上没有读到有效期）", "the upload time + 7 days (no validity line was read)"],
    none: ["不会自动过期", "it does not expire by itself"],
  };

  function when(iso) {
    return new Date(iso).toLocaleString(en ? "en-GB" : "zh-CN", {
      timeZone: "Asia/Shanghai", month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit",
      hour12: false,
    });
  }

  // What was read of the picture and the new expiry, shown above the list once it is saved.
  function showRead(g, read) {
    $("result-title").textContent = t("已更换「", "New code for “") + (read.name || g.name) +
      t("」的群码", "”");
    var dl = $("result-facts");
    dl.textContent = "";
    function fact(label, value, source) {
      var dt = document.createElement("dt");
      dt.textContent = label;
      var dd = document.createElement("dd");
      dd.textContent = value;
      if (source) {
        var s = document.createElement("span");
        s.className = "src";
        s.textContent = " (" + source + ")";
        dd.appendChild(s);
      }
      dl.appendChild(dt);
      dl.appendChild(dd);
    }
    var words = (read.code.kind_words || "").split(" / ");
    fact(t("二维码", "Code"), en ? (words[1] || words[0]) : words[0]);
    var src = function (name) {
      var w = SOURCES[read.sources[name]];
      return w ? t(w[0], w[1]) : "";
    };
    if (read.name) { fact(t("群名", "Name"), read.name, src("name")); }
    if (read.member_count !== null) {
      fact(t("人数", "Members"), String(read.member_count), src("member_count"));
    }
    var e = EXPIRY[read.expiry_source] || [read.expiry_source, read.expiry_source];
    fact(t("有效期至", "Valid until"), read.expires_at ? when(read.expires_at) : "–", t(e[0], e[1]));
    var ocr = read.ocr || {};
    $("result-ocr").textContent = ocr.status === "read" && ocr.validity_line
      ? t("图片上的文字：", "Read on the card: ") + ocr.validity_line
      : ocr.status !== "read"
        ? t("没有读到图片上的文字：群名、人数保持原样", "The card's text was not read: the name and member count stay as they were")
        : "";
    $("result").hidden = false;
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
        $("result").hidden = true;
        call("POST", "/groups/" + encodeURIComponent(g.group_id) + "/code", form)
          .then(function (read) { showRead(g, read); return load(); })
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
      // A group already full is not offered "此群已满" again (its facts say 已满).
      var isFull = g.state === "full" || (g.member_count !== null && g.capacity && g.member_count >= g.capacity);
      if (!isFull) { actions.appendChild(full); }
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
