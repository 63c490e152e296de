// The upload's reading, as ops check it: which sheet and header row were read, which column was
// read as what (and which were ignored), and each kind of problem once with its rows as ranges.
// Loaded before admin.js, which calls window.HuomaUploads.
(function () {
  "use strict";

  var TEXT = {
    zh: {
      mappingTitle: "列的读取方式", mappingSheet: "工作表「{s}」，第 {r} 行为表头（上方的标题行已跳过）",
      mappingSheetTop: "工作表「{s}」，第 {r} 行为表头", mappingRow: "第 {r} 行为表头（上方的标题行已跳过）",
      mappingTop: "第 {r} 行为表头", fileColumn: "文件中的列", readAs: "读作", ignoredCol: "未使用",
      groupedTitle: "问题（相同的问题合并，共 {n} 类）", rows: "行", count: "行数", column: "列",
      value: "值", problem: "问题", perRow: "逐行明细（{n} 处）", wholeFile: "整个文件"
    },
    en: {
      mappingTitle: "How the columns were read", mappingSheet: "Sheet \u201c{s}\u201d, header on row {r} (title rows above it skipped)",
      mappingSheetTop: "Sheet \u201c{s}\u201d, header on row {r}", mappingRow: "Header on row {r} (title rows above it skipped)",
      mappingTop: "Header on row {r}", fileColumn: "Column in the file", readAs: "Read as", ignoredCol: "not used",
      groupedTitle: "Problems (repeats merged: {n} kinds)", rows: "Rows", count: "Rows", column: "Column",
      value: "Value", problem: "Problem", perRow: "Row by row ({n})", wholeFile: "whole file"
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
      else if (attrs[k] !== null && attrs[k] !== undefined) { node.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) { if (c) { node.appendChild(c); } });
    return node;
  }

  // Row numbers as ranges: 2-51, 60.
  function ranges(rows) {
    var out = [], start = null, prev = null;
    rows.concat([null]).forEach(function (n) {
      if (n !== null && prev !== null && n === prev + 1) { prev = n; return; }
      if (start !== null) { out.push(start === prev ? String(start) : start + "-" + prev); }
      start = prev = n;
    });
    return out.join(", ");
  }

  function drawMapping(result, summary, lang) {
    var m = summary.mapping;
    if (!m) { return; }
    var skipped = m.header_row > 1;
    var where = m.sheet ? t(lang, skipped ? "mappingSheet" : "mappingSheetTop", { s: m.sheet, r: m.header_row })
      : t(lang, skipped ? "mappingRow" : "mappingTop", { r: m.header_row });
    var rows = m.columns.map(function (c) {
      var read = c.field === null ? t(lang, "ignoredCol") : (c.label ? c.label[lang] || c.label.zh : c.field) + " (" + c.field + ")";
      return el("tr", { class: c.field === null ? "ignored" : null }, [el("td", { text: c.header }), el("td", { text: read })]);
    });
    result.appendChild(el("div", { class: "mapping" }, [
      el("p", { class: "read-as", id: "upload-sheet", text: where }),
      el("table", { class: "grid", id: "upload-mapping" }, [
        el("caption", { text: t(lang, "mappingTitle") }),
        el("thead", {}, [el("tr", {}, [el("th", { text: t(lang, "fileColumn") }), el("th", { text: t(lang, "readAs") })])]),
        el("tbody", {}, rows)
      ])
    ]));
  }

  // Each kind of problem once, when some repeat; the row-by-row table (drawn by the caller into
  // the returned container) stays for whoever needs it. Returns null when nothing repeats.
  function drawGrouped(result, grouped, errors, lang) {
    if (!grouped || !grouped.length || grouped.length === errors) { return null; }
    var rows = grouped.map(function (g) {
      return el("tr", {}, [
        el("td", { class: "num", text: g.rows.length ? ranges(g.rows) : t(lang, "wholeFile") }),
        el("td", { class: "num", text: String(g.count) }),
        el("td", { text: g.column }), el("td", { text: g.value }), el("td", { text: g.message })
      ]);
    });
    result.appendChild(el("div", { class: "errors" }, [el("table", { class: "grid", id: "upload-grouped" }, [
      el("caption", { text: t(lang, "groupedTitle", { n: grouped.length }) }),
      el("thead", {}, [el("tr", {}, ["rows", "count", "column", "value", "problem"].map(function (k) { return el("th", { text: t(lang, k) }); }))]),
      el("tbody", {}, rows)
    ])]));
    var details = el("details", { class: "per-row" }, [el("summary", { text: t(lang, "perRow", { n: errors }) })]);
    result.appendChild(details);
    return details;
  }

  window.HuomaUploads = { drawMapping: drawMapping, drawGrouped: drawGrouped };
}());
