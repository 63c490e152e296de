/* Huoma ops console: group codes from their pictures. Per store, "add a group from a picture"
   (file picker or drag and drop) and, per group, "replace this group's code"; in Uploads, a ZIP of
   pictures. A picture is first sent as a dry run: the decoded kind and what OCR read are shown,
   prefilled, for confirmation; saving sends it again with the values ops changed (a value ops
   typed always wins over a reading). Uses admin.js's requests through window.HuomaAdmin. */
(function () {
  "use strict";

  var H = window.HuomaAdmin;
  if (!H) { return; }
  var el = H.el;
  var ACCEPT = "image/png,image/jpeg,image/webp,.png,.jpg,.jpeg,.webp";

  var TEXT = {
    zh: {
      addTitle: "从图片添加群", addHint: "把微信群二维码图片（“保存图片”或截图，PNG / JPEG / WebP）拖到这里，或点击选择。",
      choose: "选择图片", replace: "换码", replaceTitle: "为群 {g} 换码（保留群的顺序与历史）",
      reading: "正在识别…", kind: "二维码类型", payload: "内容", ocr: "文字识别",
      ocrRead: "已从图片识别群名、人数、有效期，请核对", name: "群名", members: "群人数",
      expiresAt: "过期时间", source: "过期时间来源", save: "确认保存", cancel: "取消",
      saved: "已保存：群 {g}", fromSrc: { expires_at: "手动填写", validity_line: "微信卡片上的有效期", qr_created_at: "二维码生成时间 + 7 天", exif: "照片拍摄时间 + 7 天", upload: "上传时间 + 7 天", none: "不过期" },
      zipTitle: "群二维码图片批量上传 (ZIP)", zipHint: "图片用群编号命名（换码）或门店编号命名（加群），或在 ZIP 里放一张表（picture、group_id、store_id 列）。先预检，全部无误才写入。",
      zipFile: "ZIP 文件", dryRun: "预检", commit: "确认导入",
      zipOk: "{n} 张图片：新增 {ins} 个群，换码 {upd} 个。", zipBad: "{n} 个问题，什么也没写入：",
      row: "行", column: "列", value: "值", problem: "问题"
    },
    en: {
      addTitle: "Add a group from a picture", addHint: "Drop the WeChat group's QR picture here (as WeChat saves it, or a screenshot; PNG / JPEG / WebP), or click to choose.",
      choose: "Choose picture", replace: "Replace code", replaceTitle: "New code for group {g} (its position and history stay)",
      reading: "Reading…", kind: "Code kind", payload: "Content", ocr: "Text recognition",
      ocrRead: "Name, members and validity were read from the picture: check them", name: "Name", members: "Members",
      expiresAt: "Expires at", source: "Expiry from", save: "Save", cancel: "Cancel",
      saved: "Saved: group {g}", fromSrc: { expires_at: "typed", validity_line: "WeChat's validity line", qr_created_at: "code made + 7 days", exif: "photo taken + 7 days", upload: "upload + 7 days", none: "does not expire" },
      zipTitle: "Group code pictures in bulk (ZIP)", zipHint: "Name pictures by group id (replace its code) or store id (add a group), or put a sheet (picture, group_id, store_id columns) in the ZIP. Dry run first; nothing is written unless all are good.",
      zipFile: "ZIP file", dryRun: "Dry run", commit: "Import",
      zipOk: "{n} picture(s): {ins} group(s) added, {upd} code(s) replaced.", zipBad: "{n} problem(s); nothing was written:",
      row: "Row", column: "Column", value: "Value", problem: "Problem"
    }
  };
  function t(key, args) {
    var s = TEXT[H.lang()][key] !== undefined ? TEXT[H.lang()][key] : TEXT.zh[key];
    if (args && typeof s === "string") { Object.keys(args).forEach(function (k) { s = s.split("{" + k + "}").join(args[k]); }); }
    return s;
  }

  // A datetime-local value (the browser's zone) from an ISO time, and back.
  function localInput(iso) {
    if (!iso) { return ""; }
    var d = new Date(iso), p = function (n) { return (n < 10 ? "0" : "") + n; };
    return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + "T" + p(d.getHours()) + ":" + p(d.getMinutes());
  }
  function isoFromInput(v) { return v ? new Date(v).toISOString() : ""; }

  function send(path, file, fields, dryRun) {
    var form = new FormData();
    Object.keys(fields).forEach(function (k) { form.append(k, fields[k]); });
    form.append("file", file, file.name || "picture");
    return H.api(path + (dryRun ? "?dry_run=1" : ""), { method: "POST", body: form });
  }

  // The confirmation panel: what was decoded and read, values prefilled and editable.
  function confirmPanel(box, path, file, body) {
    var v = body.values, ocr = body.ocr;
    var name = el("input", { type: "text", class: "pic-name", maxlength: "100", value: v.name || "" });
    var members = el("input", { type: "number", class: "pic-members", min: "0", max: "100000", value: v.member_count === null ? "" : String(v.member_count) });
    var expires = el("input", { type: "datetime-local", class: "pic-expires", value: localInput(v.expires_at) });
    var prefilled = { expires_at: expires.value };
    var facts = el("dl", { class: "pic-facts" }, [
      el("dt", { text: t("kind") }), el("dd", { class: "pic-kind", "data-kind": body.code.kind, text: body.code.kind_words }),
      el("dt", { text: t("payload") }), el("dd", { class: "pic-payload", text: body.code.payload }),
      el("dt", { text: t("ocr") }), el("dd", { class: "pic-ocr", "data-status": ocr.status, text: ocr.status === "read" ? t("ocrRead") : (ocr.message || ocr.status) }),
      el("dt", { text: t("source") }), el("dd", { class: "pic-source", "data-source": v.expiry_source, text: t("fromSrc")[v.expiry_source] || v.expiry_source })
    ]);
    var save = el("button", { type: "button", class: "pic-save", text: t("save"), onclick: function () {
      // Name and members as confirmed; the expiry only when ops changed it, so that its source
      // (the card's validity line, the photo's time...) is derived again and stays true.
      var fields = {};
      if (name.value.trim()) { fields.name = name.value.trim(); }
      if (members.value !== "") { fields.member_count = members.value; }
      if (expires.value !== prefilled.expires_at) { fields.expires_at = isoFromInput(expires.value); }
      save.disabled = true;
      send(path, file, fields, false).then(function (done) {
        H.flash(t("saved", { g: done.group_id }));
        H.reload();
      }, function (err) { save.disabled = false; shownError(box, err); });
    } });
    var cancel = el("button", { type: "button", class: "secondary pic-cancel", text: t("cancel"), onclick: function () { H.clear(box); } });
    H.clear(box);
    box.appendChild(el("div", { class: "pic-confirm" }, [
      facts,
      el("div", { class: "row" }, [
        el("label", {}, [el("span", { text: t("name") }), name]),
        el("label", {}, [el("span", { text: t("members") }), members]),
        el("label", {}, [el("span", { text: t("expiresAt") }), expires])
      ]),
      el("div", { class: "row" }, [save, cancel])
    ]));
  }

  function shownError(box, err) {
    if (err && (err.status === 401 || err.status === 403)) { H.failed(err); return; }
    var old = box.querySelector(".pic-error");
    if (old) { old.remove(); }
    var text = err.errors && err.errors.length ? err.errors.map(function (e) { return e.column + ": " + e.message; }).join("; ") : err.message;
    box.appendChild(el("p", { class: "error pic-error", "data-code": err.code, text: text }));
  }

  function readPicture(box, path, file) {
    H.clear(box);
    box.appendChild(el("p", { class: "hint", text: t("reading") }));
    send(path, file, {}, true).then(function (body) { confirmPanel(box, path, file, body); }, function (err) {
      H.clear(box);
      shownError(box, err);
    });
  }

  // A drop zone with its own file picker: a picture dropped or chosen is read at once.
  function dropZone(title, hint, path, cls) {
    var result = el("div", { class: "pic-result" });
    var input = el("input", { type: "file", class: "pic-file", accept: ACCEPT });
    input.addEventListener("change", function () { if (input.files[0]) { readPicture(result, path, input.files[0]); } });
    var zone = el("div", { class: "pic-drop" }, [
      el("strong", { text: title }), el("p", { class: "hint", text: hint }),
      el("label", { class: "pic-pick" }, [el("span", { text: t("choose") }), input])
    ]);
    zone.addEventListener("dragover", function (ev) { ev.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", function () { zone.classList.remove("over"); });
    zone.addEventListener("drop", function (ev) {
      ev.preventDefault();
      zone.classList.remove("over");
      var file = ev.dataTransfer && ev.dataTransfer.files[0];
      if (file) { readPicture(result, path, file); }
    });
    return el("div", { class: "pic " + cls }, [zone, result]);
  }

  document.addEventListener("huoma:store-groups", function (ev) {
    var d = ev.detail;
    var panelBox = el("div", { class: "pic-panel" });
    d.cell.appendChild(panelBox);
    panelBox.appendChild(dropZone(t("addTitle"), t("addHint"), "/admin/api/stores/" + encodeURIComponent(d.storeId) + "/groups/from-picture", "pic-add"));
    Array.prototype.forEach.call(d.cell.querySelectorAll("tr[data-group]"), function (tr) {
      if (tr.getAttribute("data-kind") !== "group" || tr.getAttribute("data-source") === "wecom") { return; }
      var g = tr.getAttribute("data-group");
      var actions = tr.lastChild;
      actions.appendChild(el("button", { type: "button", class: "small pic-replace", "data-group": g, text: t("replace"), onclick: function () {
        H.clear(panelBox);
        panelBox.appendChild(dropZone(t("replaceTitle", { g: g }), t("addHint"), "/admin/api/groups/" + encodeURIComponent(g) + "/code-from-picture", "pic-replace-zone"));
      } }));
    });
  });

  // ---- a ZIP of pictures, in Uploads ------------------------------------------------------------

  function zipCard() {
    var view = document.getElementById("v-uploads");
    if (!view) { return; }
    var input = el("input", { type: "file", id: "z-file", accept: ".zip,application/zip" });
    var result = el("div", { id: "z-result" });
    var commit = el("button", { type: "button", id: "z-commit", disabled: "disabled", text: t("commit") });
    function go(dryRun) {
      var file = input.files[0];
      if (!file) { return; }
      H.clear(result);
      commit.disabled = true;
      var form = new FormData();
      form.append("file", file, file.name);
      H.api("/admin/api/group-pictures" + (dryRun ? "?dry_run=1" : ""), { method: "POST", body: form }).then(function (s) {
        result.appendChild(el("p", { class: "ok", text: t("zipOk", { n: s.pictures.length, ins: s.inserted, upd: s.updated }) }));
        commit.disabled = !dryRun;
      }, function (err) {
        if (err.status === 401 || err.status === 403) { H.failed(err); return; }
        if (!err.errors.length) { result.appendChild(el("p", { class: "error", text: err.message })); return; }
        result.appendChild(el("p", { class: "error", text: t("zipBad", { n: err.errors.length + err.more }) }));
        result.appendChild(el("table", { class: "grid", id: "zip-errors" }, [
          el("thead", {}, [el("tr", {}, [t("row"), t("column"), t("value"), t("problem")].map(function (h) { return el("th", { text: h }); }))]),
          el("tbody", {}, err.errors.map(function (e) {
            return el("tr", {}, [el("td", { class: "num", text: String(e.row || "") }), el("td", { text: e.column }), el("td", { text: e.value }), el("td", { text: e.message })]);
          }))
        ]));
      });
    }
    input.addEventListener("change", function () { commit.disabled = true; H.clear(result); });
    commit.addEventListener("click", function () { go(false); });
    var form = el("form", { class: "card", id: "zip-upload" }, [
      el("h2", { text: t("zipTitle") }),
      el("div", { class: "row" }, [el("label", {}, [el("span", { text: t("zipFile") }), input])]),
      el("div", { class: "row" }, [el("button", { type: "submit", id: "z-dry", text: t("dryRun") }), commit]),
      el("p", { class: "hint", text: t("zipHint") }),
      result
    ]);
    form.addEventListener("submit", function (ev) { ev.preventDefault(); go(true); });
    view.insertBefore(form, view.children[1] || null);
  }
  zipCard();
}());
