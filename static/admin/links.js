/* Huoma ops console: the store links screen (editors). Choose stores (all, by region or city, or
   pasted ids), issue their links as a sheet, print one store's link as a QR code, revoke one
   store's links, or (an admin of every region) every link. Registers with admin.js, which loads
   after this file, merges the words and calls load() when the screen is shown. */
(function () {
  "use strict";

  var TEXT = {
    zh: {
      navLinks: "门店链接", linksIssueTitle: "签发门店链接",
      linksIntro: "每个门店一个链接：店员用手机打开，只能看到本店的群、上传新群码、标记群已满，别的什么也做不了。",
      linksAll: "全部门店", linksByRegion: "按地区 / 城市", linksByIds: "粘贴门店编号",
      linksIdsLabel: "门店编号（每行一个，或用逗号分隔）", linksIdsPlaceholder: "SH001\nSH002",
      linksFormat: "表格格式", linksPreview: "预览", linksIssue: "签发并下载表格",
      linksSheetHint: "表格里的每个链接都能改动该门店的群码：只发给该门店。再次签发不会让旧链接失效；要让旧链接失效请作废。",
      linksOneTitle: "单个门店：打印二维码、作废链接", linksQr: "生成二维码",
      linksRevoke: "作废该门店的链接", linksPrint: "打印",
      linksAllTitle: "作废全部门店链接",
      linksAllHint: "所有门店的所有链接立即失效（例如表格外泄时）；之后需要重新签发。只有不限地区的管理员可以操作。",
      linksRevokeAll: "作废全部链接",
      linksCount: "将为 {n} 个门店签发链接", linksIssued: "已签发 {n} 个门店的链接，表格已下载",
      linksNoRegion: "请至少选一个地区或城市", linksNoIds: "请粘贴门店编号",
      linksStoreNeeded: "请填写门店编号", linksMore: "另有 {n} 个门店",
      linksQrCaption: "{s} 门店群码维护：用手机微信扫码打开", linksQrFor: "二维码",
      linksConfirmRevoke: "作废门店 {s} 的全部链接？店员需要新链接才能继续使用。",
      linksRevoked: "门店 {s} 的链接已作废",
      linksConfirmAll: "作废所有门店的全部链接？所有门店都需要重新签发。",
      linksAllRevoked: "所有门店链接已作废", linksStoresIn: "{n} 家门店",
      linksNoStore: "没有门店 {s}（或不在你可管理的地区内）"
    },
    en: {
      navLinks: "Store links", linksIssueTitle: "Issue store links",
      linksIntro: "One link per store: staff open it on a phone and see only their store's groups, upload a group's new code and mark a group full; nothing else.",
      linksAll: "All stores", linksByRegion: "By region / city", linksByIds: "Paste store ids",
      linksIdsLabel: "Store ids (one a line, or comma-separated)", linksIdsPlaceholder: "SH001\nSH002",
      linksFormat: "Sheet format", linksPreview: "Preview", linksIssue: "Issue and download the sheet",
      linksSheetHint: "Each link in the sheet can change its store's group codes: hand it to that store only. Issuing again does not end earlier links; revoke them for that.",
      linksOneTitle: "One store: print its QR code, revoke its links", linksQr: "Make the QR code",
      linksRevoke: "Revoke this store's links", linksPrint: "Print",
      linksAllTitle: "Revoke every store link",
      linksAllHint: "Every link of every store stops working at once (e.g. when a sheet leaked); issue new ones afterwards. Only an admin of every region may do this.",
      linksRevokeAll: "Revoke every link",
      linksCount: "Links will be issued for {n} stores", linksIssued: "Issued links for {n} stores; the sheet is downloaded",
      linksNoRegion: "Choose at least one region or city", linksNoIds: "Paste store ids",
      linksStoreNeeded: "Type a store id", linksMore: "and {n} more stores",
      linksQrCaption: "Store {s}: group codes. Scan with WeChat on a phone", linksQrFor: "QR code",
      linksConfirmRevoke: "Revoke every link of store {s}? Its staff will need a new link.",
      linksRevoked: "The links of store {s} are revoked",
      linksConfirmAll: "Revoke every link of every store? Every store will need a new link.",
      linksAllRevoked: "Every store link is revoked", linksStoresIn: "{n} stores",
      linksNoStore: "No store {s} (or not in your regions)"
    }
  };

  var h = null;  // admin.js's helpers, handed over on load
  var regions = [];
  var qrUrl = null;

  function $(id) { return document.getElementById(id); }
  function by() { return document.querySelector("input[name=l-by]:checked").value; }

  function error(message) {
    $("l-error").textContent = message || "";
    $("l-error").hidden = !message;
  }

  // What the form chooses, as the API's body; null (with the reason shown) when incomplete.
  function choice() {
    var how = by();
    if (how === "all") { return { all: true }; }
    if (how === "regions") {
      var picked = Array.prototype.map.call(
        document.querySelectorAll("#l-regions input:checked"), function (i) { return i.value; });
      if (!picked.length) { error(h.t("linksNoRegion")); return null; }
      return { regions: picked };
    }
    var ids = $("l-ids").value.split(/[\s,，、;；]+/).map(function (s) { return s.trim(); }).filter(Boolean);
    if (!ids.length) { error(h.t("linksNoIds")); return null; }
    return { store_ids: ids };
  }

  function post(body) {
    return window.huomaAdmin.request("/admin/api/store-links", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body)
    }).then(function (r) {
      if (r.ok) { return r; }
      return r.json().then(function (b) {
        var e = new Error((b.error && b.error.message) || "HTTP " + r.status);
        e.status = r.status;
        throw e;
      });
    });
  }

  function drawRegions() {
    var box = $("l-regions");
    h.clear(box);
    regions.forEach(function (r) {
      box.appendChild(h.el("label", { class: "check" }, [
        h.el("input", { type: "checkbox", value: r.region, onchange: preview }),
        " " + r.region + " ",
        h.el("span", { class: "hint", text: "(" + h.t("linksStoresIn", { n: r.stores }) + ")" })
      ]));
    });
  }

  function showChoice() {
    var how = by();
    $("l-regions").hidden = how !== "regions";
    $("l-ids-label").hidden = how !== "ids";
    preview();
  }

  // How many stores the choice names, and their ids (each with its QR code to print).
  function preview() {
    error("");
    var body = choice();
    $("l-count").hidden = true;
    h.clear($("l-stores"));
    if (!body) { return; }
    body.dry_run = true;
    post(body).then(function (r) { return r.json(); }).then(function (b) {
      $("l-count").textContent = h.t("linksCount", { n: h.num(b.stores) });
      $("l-count").hidden = false;
      var list = $("l-stores");
      b.store_ids.forEach(function (id) {
        list.appendChild(h.el("span", { class: "links-store", "data-store": id }, [
          h.el("code", { text: id }), " ",
          h.el("button", { type: "button", class: "small", text: h.t("linksQrFor"), onclick: function () { $("l-store").value = id; qr(); } })
        ]));
      });
      if (b.stores > b.store_ids.length) {
        list.appendChild(h.el("span", { class: "hint", text: h.t("linksMore", { n: h.num(b.stores - b.store_ids.length) }) }));
      }
    }, function (e) { if (e.status === 401) { h.failed(e); } else { error(e.message); } });
  }

  function issue(ev) {
    ev.preventDefault();
    error("");
    var body = choice();
    if (!body) { return; }
    body.format = $("l-format").value;
    body.lang = h.lang;
    var count = 0;
    post(body).then(function (r) { return r.blob(); }).then(function (blob) {
      var url = URL.createObjectURL(blob);
      var a = h.el("a", { href: url, download: "huoma-store-links." + body.format });
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(function () { URL.revokeObjectURL(url); }, 60000);
      return body.format === "csv" ? blob.text().then(function (text) {
        count = text.split("\r\n").filter(Boolean).length - 1;
      }) : null;
    }).then(function () {
      h.flash(h.t("linksIssued", { n: count || $("l-count").textContent.replace(/\D+/g, "") }));
    }, function (e) { if (e.status === 401) { h.failed(e); } else { error(e.message); } });
  }

  function storeId() {
    var id = $("l-store").value.trim();
    if (!id) { h.flash(h.t("linksStoreNeeded")); }
    return id;
  }

  function qr() {
    var id = storeId();
    if (!id) { return; }
    window.huomaAdmin.request("/admin/api/store-links/" + encodeURIComponent(id) + "/qr.png").then(function (r) {
      if (!r.ok) {
        return r.json().then(function (b) {
          throw new Error(b.error.code === "store_not_found" ? h.t("linksNoStore", { s: id }) : b.error.message);
        });
      }
      return r.blob();
    }).then(function (blob) {
      if (qrUrl) { URL.revokeObjectURL(qrUrl); }
      qrUrl = URL.createObjectURL(blob);
      $("l-qr-img").src = qrUrl;
      $("l-qr-img").alt = id;
      $("l-qr-caption").textContent = h.t("linksQrCaption", { s: id });
      $("l-print").hidden = false;
      $("l-print").scrollIntoView({ block: "nearest" });
    }, function (e) { h.flash(e.message); });
  }

  function revoke() {
    var id = storeId();
    if (!id || !window.confirm(h.t("linksConfirmRevoke", { s: id }))) { return; }
    h.api("/admin/api/store-links/" + encodeURIComponent(id) + "/revoke", { method: "POST" }).then(function () {
      $("l-print").hidden = true;
      h.flash(h.t("linksRevoked", { s: id }));
    }, function (e) {
      if (e.code === "store_not_found") { h.flash(h.t("linksNoStore", { s: id })); } else { h.failed(e); }
    });
  }

  function revokeAll() {
    if (!window.confirm(h.t("linksConfirmAll"))) { return; }
    h.api("/admin/api/store-links/revoke-all", { method: "POST" }).then(function () {
      h.flash(h.t("linksAllRevoked"));
    }, h.failed);
  }

  function load(view, helpers) {
    h = helpers;
    var form = $("links-form");
    if (!form.getAttribute("data-ready")) {
      form.setAttribute("data-ready", "1");
      form.addEventListener("submit", issue);
      Array.prototype.forEach.call(document.querySelectorAll("input[name=l-by]"), function (i) {
        i.addEventListener("change", showChoice);
      });
      $("l-preview").addEventListener("click", preview);
      $("l-qr").addEventListener("click", qr);
      $("l-revoke").addEventListener("click", revoke);
      $("l-revoke-all").addEventListener("click", revokeAll);
      $("l-print-btn").addEventListener("click", function () { window.print(); });
    }
    $("l-print").hidden = true;
    // The regions (a store's region, else its city) this editor may choose from.
    post({ dry_run: true }).then(function (r) { return r.json(); }).then(function (b) {
      regions = b.regions;
      drawRegions();
      showChoice();
    }, function (e) { if (e.status === 401) { h.failed(e); } else { error(e.message); } });
  }

  window.HuomaAdminExtensions = (window.HuomaAdminExtensions || []).concat([
    { views: ["links"], text: TEXT, load: load }
  ]);
})();
