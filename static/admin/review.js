// A dry run's review, as ops decide on it: the warnings (rows that are valid but probably wrong,
// each with its fix), what the upload changes per store or group (added / changed old -> new /
// unchanged), paged, and the confirmation a commit with warnings needs. Loaded before admin.js,
// which calls window.HuomaReview.
(function () {
  "use strict";

  var TEXT = {
    zh: {
      warningsTitle: "警告（{n} 处）：数据有效，但可能有误，请逐条核对",
      okButWarned: "有 {n} 处警告：请逐条核对，勾选确认后才能导入。", accept: "我已核对以上警告，仍要导入", acceptHint: "有警告时，须勾选确认后才能导入（确认码只对这个文件和这些警告有效）",
      changesTitle: "变更明细：新增 {a}，修改 {c}，不变 {u}，有警告 {w}",
      row: "行", kind: "类型", id: "编号", status: "变化", fields: "字段（原值 → 新值）", warn: "警告",
      added: "新增", changed: "修改", unchanged: "不变", store: "门店", group: "群",
      prev: "上一页", next: "下一页", page: "第 {a}-{b} 条，共 {n} 条", all: "全部", warned: "有警告",
      wholeFile: "整个文件", column: "列", value: "值", problem: "问题"
    },
    en: {
      warningsTitle: "Warnings ({n}): valid, but probably wrong; check each",
      okButWarned: "{n} warning(s): check each, then tick to confirm before importing.", accept: "I have checked these warnings; import anyway", acceptHint: "With warnings, tick to confirm before importing (the confirmation holds for this file and these warnings only)",
      changesTitle: "Changes: {a} added, {c} changed, {u} unchanged, {w} with warnings",
      row: "Row", kind: "Kind", id: "ID", status: "Change", fields: "Fields (old \u2192 new)", warn: "Warnings",
      added: "added", changed: "changed", unchanged: "unchanged", store: "store", group: "group",
      prev: "Previous", next: "Next", page: "{a}-{b} of {n}", all: "All", warned: "with warnings",
      wholeFile: "whole file", column: "Column", value: "Value", problem: "Problem"
    }
  };

  function t(lang, key, args) {
    var s = (TEXT[lang] || TEXT.zh)[key] || key;
    Object.keys(args || {}).forEach(function (k) { s = s.split("{" + k + "}").join(String(args[k])); });
    return s;
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { node.textContent = attrs[k]; }
      else if (k === "class") { node.className = attrs[k]; }
      else if (k.indexOf("on") === 0) { node.addEventListener(k.slice(2), attrs[k]); }
      else if (attrs[k] !== null && attrs[k] !== undefined) { node.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) { if (c) { node.appendChild(typeof c === "string" ? document.createTextNode(c) : c); } });
    return node;
  }

  function shown(v) { return v === null || v === undefined || v === "" ? "\u2014" : String(v); }

  function drawWarnings(result, s, lang, commit) {
    if (!s.warnings || !s.warnings.length) { return; }
    if (s.dry_run) { result.appendChild(el("p", { class: "warned", id: "upload-warned", text: t(lang, "okButWarned", { n: s.warnings.length }) })); }
    var rows = s.warnings.map(function (w) {
      return el("tr", { "data-code": w.code }, [
        el("td", { class: "num", text: w.row ? String(w.row) : t(lang, "wholeFile") }),
        el("td", { text: w.column }), el("td", { text: w.value }), el("td", { text: w.message })
      ]);
    });
    result.appendChild(el("div", { class: "warnings" }, [el("table", { class: "grid", id: "upload-warnings" }, [
      el("caption", { text: t(lang, "warningsTitle", { n: s.warnings.length }) }),
      el("thead", {}, [el("tr", {}, ["row", "column", "value", "problem"].map(function (k) { return el("th", { text: t(lang, k) }); }))]),
      el("tbody", {}, rows)
    ])]));
    if (s.dry_run && s.confirm_token) {
      var box = el("input", { type: "checkbox", id: "u-accept" });
      box.addEventListener("change", function () { commit.disabled = !box.checked; });
      result.appendChild(el("p", { class: "accept" }, [el("label", {}, [box, " ", t(lang, "accept")])]));
      result.appendChild(el("p", { class: "hint", text: t(lang, "acceptHint") }));
      commit.disabled = true;
    }
  }

  // A change's warnings by their words (the dry run's warning list has each row's message; the
  // code stays as a tooltip and data attribute).
  function warningCell(c, s) {
    var cell = el("td", { class: "warn" });
    c.warnings.forEach(function (code, i) {
      var found = (s.warnings || []).filter(function (w) { return w.row === c.row && w.code === code; })[0];
      if (i) { cell.appendChild(document.createTextNode("；")); }
      cell.appendChild(el("span", { class: "warning", "data-code": code, title: code, text: found && found.message ? found.message : code }));
    });
    return cell;
  }

  function changeRows(items, lang, s) {
    return items.map(function (c) {
      var fields = Object.keys(c.fields).map(function (f) {
        return el("div", { class: "field" }, [el("b", { text: f }), ": " + shown(c.fields[f].old) + " \u2192 " + shown(c.fields[f]["new"])]);
      });
      return el("tr", { class: "change " + c.status, "data-id": c.id }, [
        el("td", { class: "num", text: String(c.row) }), el("td", { text: t(lang, c.kind) }), el("td", { text: c.id }),
        el("td", {}, [el("span", { class: "badge " + c.status, text: t(lang, c.status) })]),
        el("td", {}, fields), warningCell(c, s)
      ]);
    });
  }

  // `page(offset, status)` asks the server for another page (a dry run again: nothing is written).
  function drawChanges(result, s, lang, page) {
    var ch = s.changes;
    if (!ch) { return; }
    var old = document.getElementById("upload-changes-box");
    var box = el("div", { class: "changes", id: "upload-changes-box" });
    var counts = ch.counts;
    var filter = el("select", { id: "u-changes-filter" }, ["", "added", "changed", "unchanged", "warned"].map(function (k) {
      var o = el("option", { value: k, text: k ? t(lang, k) : t(lang, "all") });
      if ((ch.status || "") === k) { o.selected = true; }
      return o;
    }));
    filter.addEventListener("change", function () { page(0, filter.value); });
    var last = Math.min(ch.offset + ch.items.length, ch.total);
    box.appendChild(el("table", { class: "grid", id: "upload-changes" }, [
      el("caption", { text: t(lang, "changesTitle", { a: counts.added, c: counts.changed, u: counts.unchanged, w: counts.warned }) }),
      el("thead", {}, [el("tr", {}, ["row", "kind", "id", "status", "fields", "warn"].map(function (k) { return el("th", { text: t(lang, k) }); }))]),
      el("tbody", {}, changeRows(ch.items, lang, s))
    ]));
    box.appendChild(el("div", { class: "pager", id: "upload-changes-pager" }, [
      filter,
      el("button", { type: "button", id: "u-changes-prev", text: t(lang, "prev"), disabled: ch.offset > 0 ? null : "disabled",
        onclick: function () { page(Math.max(0, ch.offset - ch.limit), ch.status || ""); } }),
      el("span", { id: "u-changes-page", text: t(lang, "page", { a: ch.total ? ch.offset + 1 : 0, b: last, n: ch.total }) }),
      el("button", { type: "button", id: "u-changes-next", text: t(lang, "next"), disabled: last < ch.total ? null : "disabled",
        onclick: function () { page(ch.offset + ch.limit, ch.status || ""); } })
    ]));
    if (old) { old.parentNode.replaceChild(box, old); } else { result.appendChild(box); }
  }

  window.HuomaReview = { drawWarnings: drawWarnings, drawChanges: drawChanges };
}());
