/* Huoma ops console: the brand screen (品牌: name, logo, theme colour, offer line, captions,
   location purpose line, footer, print call to action; admins only, stored in the database and
   served by every worker within seconds), with a preview of the customer page's header; and,
   in the entry codes screen, each code's campaign copy and print sheets, each store's print
   sheets in its detail row, and the all-stores print job (admins only).
   Registers with admin.js, which loads after this file and hands over its helpers. */
(function () {
  "use strict";

  var TEXT = {
    zh: {
      navBrand: "品牌",
      brandHint: "品牌设置保存在数据库中，几秒内对所有进程的顾客页、分享卡片和台卡生效；未设置的项使用环境变量（HUOMA_BRAND_*）的默认值。",
      brFields: "品牌文字与颜色", brSave: "保存", brSaved: "品牌已保存，各进程几秒内生效",
      brReset: "恢复默认", brFromDb: "运营设置", brFromEnv: "环境变量默认值", brDefault: "默认值（{e}）：{v}",
      brChangedBy: "{who} 于 {at} 修改", brNothing: "没有修改", brChars: "最多 {n} 字",
      brLogo: "品牌标志", brNoLogo: "未设置标志", brUpload: "上传标志", brRemoveLogo: "不用标志",
      brLogoHint: "PNG、JPEG 或 WebP，最大 {kb} KB；保存时缩为最长边 {px} 像素的 PNG。",
      brLogoNow: "当前：{w}×{h} 像素，{b} 字节", brPickFirst: "请先选择图片",
      brPreview: "顾客页预览", brPreviewStore: "示例门店（人民广场店）", brPreviewMeta: "350 米 · 黄浦区南京东路 1 号",
      brPreviewQr: "群二维码", brPreviewHint: "预览只示意页头与文字；保存后顾客页以实际为准。",
      f_name: "品牌名称", f_theme_colour: "主题色", f_offer: "福利语（如：进群领3张8折券）",
      f_caption_group: "群码说明", f_caption_staff: "店员兜底说明", f_caption_brand: "品牌群兜底说明",
      f_location_purpose: "定位用途说明（个人信息保护：说明为何定位、保留什么）", f_footer: "页脚",
      f_call_to_action: "台卡引导语",
      campaign: "活动文案", campaignNone: "无活动文案", campaignSave: "保存文案", campaignSaved: "入口码 {c} 的活动文案已保存",
      sheetA6: "台卡 A6", sheetA5: "海报 A5", printSheets: "打印",
      printAll: "全部门店台卡", printAllHint: "为每家营业门店生成台卡（后台生成，完成后下载）。",
      printStart: "开始生成", printSize: "尺寸", printA6: "A6 台卡", printA5: "A5 海报",
      printStatus: "任务 #{id}：{s}", printPages: "{n} 页", printDownload: "下载 PDF",
      st_pending: "排队中", st_running: "生成中", st_done: "已完成", st_failed: "失败",
      brContrast: "主题色 {c} 在顾客页的浅色背景上不够清晰（对比度 {r}:1，低于 4.5:1）：链接和文字会改用加深的 {t}{f}，以保证顾客看得清。想完全按品牌色显示，请选更深的主题色。",
      brContrastFill: "，按钮底色用 {f}"
    },
    en: {
      navBrand: "Brand",
      brandHint: "Brand settings live in the database and reach every worker's customer page, share card and print sheets within seconds; a field left unset takes its environment default (HUOMA_BRAND_*).",
      brFields: "Brand texts and colour", brSave: "Save", brSaved: "Brand saved; every worker serves it within seconds",
      brReset: "Reset to default", brFromDb: "set by ops", brFromEnv: "environment default", brDefault: "Default ({e}): {v}",
      brChangedBy: "changed by {who} at {at}", brNothing: "Nothing changed", brChars: "at most {n} characters",
      brLogo: "Logo", brNoLogo: "No logo", brUpload: "Upload logo", brRemoveLogo: "No logo",
      brLogoHint: "PNG, JPEG or WebP, at most {kb} KB; stored as a PNG of at most {px} px a side.",
      brLogoNow: "Now: {w}×{h} px, {b} bytes", brPickFirst: "Choose a picture first",
      brPreview: "Customer page preview", brPreviewStore: "Sample store (People's Square)", brPreviewMeta: "350 m · 1 East Nanjing Road",
      brPreviewQr: "group QR", brPreviewHint: "The preview shows the header and texts; the customer page is the reference once saved.",
      f_name: "Brand name", f_theme_colour: "Theme colour", f_offer: "Offer line",
      f_caption_group: "Group caption", f_caption_staff: "Staff fallback caption", f_caption_brand: "Brand group caption",
      f_location_purpose: "Why the page asks for location (and what is kept)", f_footer: "Footer",
      f_call_to_action: "Print call to action",
      campaign: "Campaign copy", campaignNone: "No campaign copy", campaignSave: "Save copy", campaignSaved: "Campaign copy of {c} saved",
      sheetA6: "A6 sheet", sheetA5: "A5 poster", printSheets: "Print",
      printAll: "All stores' sheets", printAllHint: "Sheets for every active store, made in the background and downloaded when ready.",
      printStart: "Start", printSize: "Size", printA6: "A6 table tent", printA5: "A5 poster",
      printStatus: "Job #{id}: {s}", printPages: "{n} pages", printDownload: "Download PDF",
      st_pending: "queued", st_running: "running", st_done: "done", st_failed: "failed",
      brContrast: "The theme colour {c} is hard to read on the customer page's light background (contrast {r}:1, below 4.5:1): links and text use the darker {t}{f}, so customers can read them. For the brand colour as it is, pick a darker one.",
      brContrastFill: ", buttons {f}"
    }
  };

  var brand = null; // the last GET /admin/api/brand
  var pickedLogo = null; // a chosen, not yet uploaded file's object URL

  function on(colour) {
    // White on the theme colour unless its contrast is below 4.5:1 (as router/brand.py decides).
    if (!/^#[0-9a-fA-F]{6}$/.test(colour)) { return "#fff"; }
    var c = [1, 3, 5].map(function (i) {
      var s = parseInt(colour.slice(i, i + 2), 16) / 255;
      return s <= 0.03928 ? s / 12.92 : Math.pow((s + 0.055) / 1.055, 2.4);
    });
    var lum = 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
    return 1.05 / (lum + 0.05) >= 4.5 ? "#fff" : "#1f2329";
  }

  function value(h, field) {
    var input = h.$("br-" + field);
    return input ? input.value.trim() : "";
  }

  function drawPreview(h) {
    var box = h.$("br-preview");
    if (!box) { return; }
    var colour = value(h, "theme_colour");
    if (!/^#[0-9a-fA-F]{6}$/.test(colour)) { colour = "#2b63e6"; }
    // CSSOM (not a style attribute): allowed by the page's strict policy.
    box.style.setProperty("--pv-brand", colour);
    box.style.setProperty("--pv-on-brand", on(colour));
    h.$("pv-name").textContent = value(h, "name");
    h.$("pv-offer").textContent = value(h, "offer");
    h.$("pv-offer").hidden = !value(h, "offer");
    h.$("pv-caption").textContent = value(h, "caption_group");
    h.$("pv-purpose").textContent = value(h, "location_purpose");
    h.$("pv-footer").textContent = value(h, "footer");
    h.$("pv-footer").hidden = !value(h, "footer");
    var img = h.$("pv-logo");
    var src = pickedLogo || (brand && brand.logo ? brand.logo.url : "");
    img.hidden = !src;
    if (src) { img.src = src; } else { img.removeAttribute("src"); }
  }

  function showError(h, err) {
    if (err.status === 401 || err.status === 403) { h.failed(err); return; }
    var e = h.$("brand-error");
    e.textContent = err.message;
    e.hidden = false;
  }

  function send(h, body, done) {
    h.$("brand-error").hidden = true;
    h.api("/admin/api/brand", { method: "PUT", body: JSON.stringify(body), headers: { "Content-Type": "application/json" } }).then(function (b) {
      brand = b;
      h.flash(h.t("brSaved"));
      draw(h);
      if (done) { done(); }
    }, function (err) { showError(h, err); });
  }

  function fieldRow(h, f) {
    var attrs = { id: "br-" + f.field, type: "text", value: f.value, "data-field": f.field };
    if (f.max_chars) { attrs.maxlength = String(f.max_chars); }
    if (f.field === "theme_colour") { attrs.maxlength = "7"; }
    var input = h.el("input", attrs);
    input.addEventListener("input", function () { drawPreview(h); });
    var controls = [input];
    if (f.field === "theme_colour") {
      var picker = h.el("input", { id: "br-colour-picker", type: "color", value: /^#[0-9a-fA-F]{6}$/.test(f.value) ? f.value : "#2b63e6" });
      picker.addEventListener("input", function () { input.value = picker.value; drawPreview(h); });
      input.addEventListener("input", function () { if (/^#[0-9a-fA-F]{6}$/.test(input.value.trim())) { picker.value = input.value.trim().toLowerCase(); } });
      controls = [picker, input];
    }
    var source = f.source === "database"
      ? h.el("span", { class: "badge", text: h.t("brFromDb") })
      : h.el("span", { class: "badge off", text: h.t("brFromEnv") });
    var notes = [source, " ", h.el("span", { class: "hint", text: h.t("brDefault", { e: f.env, v: f["default"] || "–" }) })];
    if (f.updated_by) { notes.push(" ", h.el("span", { class: "hint", text: h.t("brChangedBy", { who: f.updated_by, at: h.when(f.updated_at) }) })); }
    if (f.source === "database") {
      var body = {};
      body[f.field] = null;
      notes.push(" ", h.el("button", { type: "button", class: "small", text: h.t("brReset"), onclick: function () { send(h, body); } }));
    }
    return h.el("div", { class: "br-field" }, [
      h.el("label", { for: "br-" + f.field }, [h.t("f_" + f.field), f.max_chars ? h.el("span", { class: "hint", text: " · " + h.t("brChars", { n: f.max_chars }) }) : null]),
      h.el("div", { class: "br-input" }, controls),
      h.el("div", { class: "br-notes" }, notes)
    ]);
  }

  function logoCard(h) {
    var file = h.el("input", { id: "br-logo-file", type: "file", accept: "image/png,image/jpeg,image/webp" });
    file.addEventListener("change", function () {
      if (pickedLogo) { URL.revokeObjectURL(pickedLogo); }
      pickedLogo = file.files[0] ? URL.createObjectURL(file.files[0]) : null;
      drawPreview(h);
    });
    var now = brand.logo
      ? h.el("div", { class: "br-logo-now" }, [
        h.el("img", { id: "br-logo-img", src: brand.logo.url, alt: "", width: String(brand.logo.width), height: String(brand.logo.height) }),
        h.el("span", { class: "hint", text: h.t("brLogoNow", { w: brand.logo.width, h: brand.logo.height, b: brand.logo.bytes }) })
      ])
      : h.el("p", { class: "hint", text: h.t("brNoLogo") });
    var upload = h.el("button", { id: "br-logo-upload", type: "button", text: h.t("brUpload"), onclick: function () {
      var f = file.files[0];
      if (!f) { showError(h, { message: h.t("brPickFirst") }); return; }
      h.$("brand-error").hidden = true;
      h.api("/admin/api/brand/logo", { method: "POST", body: f, headers: { "Content-Type": f.type || "application/octet-stream" } }).then(function (b) {
        brand = b;
        if (pickedLogo) { URL.revokeObjectURL(pickedLogo); pickedLogo = null; }
        h.flash(h.t("brSaved"));
        draw(h);
      }, function (err) { showError(h, err); });
    } });
    var buttons = [upload];
    if (brand.logo) { buttons.push(h.el("button", { type: "button", class: "secondary", text: h.t("brRemoveLogo"), onclick: function () { send(h, { logo: "" }); } })); }
    if (brand.logo_source === "database") { buttons.push(h.el("button", { type: "button", class: "small", text: h.t("brReset"), onclick: function () { send(h, { logo: null }); } })); }
    return h.el("div", { class: "card br-logo" }, [
      h.el("h2", { text: h.t("brLogo") }),
      now,
      h.el("div", { class: "br-input" }, [file]),
      h.el("p", { class: "hint", text: h.t("brLogoHint", { kb: Math.round(brand.logo_max_bytes / 1024), px: brand.logo_max_px }) }),
      h.el("div", { class: "br-buttons" }, buttons)
    ]);
  }

  function previewCard(h) {
    return h.el("div", { class: "card br-preview-card" }, [
      h.el("h2", { text: h.t("brPreview") }),
      h.el("div", { id: "br-preview", class: "br-phone" }, [
        h.el("header", { class: "pv-brand" }, [
          h.el("img", { id: "pv-logo", alt: "" }),
          h.el("p", { id: "pv-name", class: "pv-name" }),
          h.el("p", { id: "pv-offer", class: "pv-offer" })
        ]),
        h.el("div", { class: "pv-body" }, [
          h.el("p", { class: "pv-store", text: h.t("brPreviewStore") }),
          h.el("p", { class: "pv-meta", text: h.t("brPreviewMeta") }),
          h.el("div", { class: "pv-qr", text: h.t("brPreviewQr") }),
          h.el("p", { id: "pv-caption", class: "pv-caption" }),
          h.el("p", { id: "pv-purpose", class: "pv-meta" }),
          h.el("p", { id: "pv-footer", class: "pv-meta" })
        ])
      ]),
      h.el("p", { class: "hint", text: h.t("brPreviewHint") })
    ]);
  }

  function draw(h) {
    var screen = h.$("brand-screen");
    h.clear(screen);
    var form = h.el("form", { id: "brand-form", class: "card" }, [h.el("h2", { text: h.t("brFields") })]);
    brand.fields.forEach(function (f) { form.appendChild(fieldRow(h, f)); });
    var c = brand.contrast;
    if (c && c.adjusted) {
      var theme = (brand.fields.filter(function (f) { return f.field === "theme_colour"; })[0] || {}).value || "";
      var warn = h.el("p", { id: "brand-contrast", class: "warned" }, [
        h.el("span", { class: "br-swatch", "data-colour": c.text }),
        h.t("brContrast", { c: theme, r: String(c.ratio_on_page), t: c.text, f: c.fill !== theme.toLowerCase() ? h.t("brContrastFill", { f: c.fill }) : "" })
      ]);
      // CSSOM (not a style attribute): allowed by the page's strict policy.
      warn.querySelector(".br-swatch").style.setProperty("background", c.text);
      form.appendChild(warn);
    }
    form.appendChild(h.el("button", { id: "brand-save", type: "submit", text: h.t("brSave") }));
    form.appendChild(h.el("p", { id: "brand-error", class: "error", hidden: "hidden" }));
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var body = {};
      brand.fields.forEach(function (f) {
        var v = value(h, f.field);
        if (v !== f.value) { body[f.field] = v; }
      });
      if (!Object.keys(body).length) { h.flash(h.t("brNothing")); return; }
      send(h, body);
    });
    screen.appendChild(h.el("p", { class: "hint", text: h.t("brandHint") }));
    screen.appendChild(h.el("div", { class: "br-layout" }, [
      h.el("div", {}, [form]),
      h.el("div", {}, [previewCard(h), logoCard(h)])
    ]));
    drawPreview(h);
  }

  function loadBrand(h) {
    h.api("/admin/api/brand").then(function (b) { brand = b; draw(h); }, h.failed);
  }

  // ---- entry codes: campaign copy and print sheets ---------------------------------------------

  function sheetButtons(h, path, name) {
    return h.el("div", { class: "links br-sheets" }, [
      h.el("span", { class: "hint", text: h.t("printSheets") + "：" }),
      h.el("button", { type: "button", class: "link", text: h.t("sheetA6"), "data-size": "a6", onclick: function () { h.download(path + "?size=a6", name + "-a6.pdf"); } }),
      h.el("button", { type: "button", class: "link", text: h.t("sheetA5"), "data-size": "a5", onclick: function () { h.download(path + "?size=a5", name + "-a5.pdf"); } })
    ]);
  }

  function entryDetail(e, box, h) {
    var code = encodeURIComponent(e.code);
    var shown = h.el("div", { class: "br-campaign-now", text: e.campaign ? e.campaign : h.t("campaignNone") });
    var input = h.el("input", { type: "text", class: "br-campaign-input", maxlength: "40", value: e.campaign || "", placeholder: h.t("campaign") });
    var error = h.el("p", { class: "error", hidden: "hidden" });
    var save = h.el("button", { type: "button", class: "small", text: h.t("campaignSave"), onclick: function () {
      error.hidden = true;
      h.api("/admin/api/entries/" + code + "/campaign", { method: "PUT", body: JSON.stringify({ campaign: input.value.trim() }), headers: { "Content-Type": "application/json" } }).then(function (r) {
        e.campaign = r.campaign;
        input.value = r.campaign;
        shown.textContent = r.campaign || h.t("campaignNone");
        h.flash(h.t("campaignSaved", { c: r.code }));
      }, function (err) {
        if (err.status === 401 || err.status === 403) { h.failed(err); return; }
        error.textContent = err.message;
        error.hidden = false;
      });
    } });
    box.appendChild(h.el("div", { class: "br-campaign" }, [
      h.el("span", { class: "hint", text: h.t("campaign") + "：" }), shown,
      h.el("div", { class: "br-campaign-edit" }, [input, save]),
      error
    ]));
    box.appendChild(sheetButtons(h, "/admin/api/entries/" + code + "/sheet.pdf", "huoma-entry-" + e.code));
  }

  function storeDetail(storeId, cell, h) {
    cell.appendChild(sheetButtons(h, "/admin/api/stores/" + encodeURIComponent(storeId) + "/sheet.pdf", "huoma-store-" + storeId));
  }

  // ---- all stores' sheets: a background job -----------------------------------------------------

  var polling = null;

  function drawJob(h, job) {
    var status = h.$("print-status");
    if (!status) { return; }
    h.clear(status);
    status.appendChild(h.el("span", { class: "badge " + (job.status === "done" ? "" : job.status === "failed" ? "failed" : "pending"), "data-status": job.status, text: h.t("printStatus", { id: job.id, s: h.t("st_" + job.status) }) }));
    if (job.pages !== null && job.pages !== undefined) { status.appendChild(h.el("span", { class: "hint", text: " " + h.t("printPages", { n: job.pages }) })); }
    if (job.error) { status.appendChild(h.el("p", { class: "error", text: job.error })); }
    if (job.warning) { status.appendChild(h.el("p", { class: "hint br-warning", text: job.warning })); }
    if (job.download) {
      status.appendChild(h.el("button", { id: "print-download", type: "button", class: "secondary", text: h.t("printDownload"), onclick: function () { h.download(job.download, "huoma-stores-" + job.id + ".pdf"); } }));
    }
  }

  function follow(h, id) {
    if (polling) { clearTimeout(polling); polling = null; }
    h.api("/admin/api/print-jobs/" + id).then(function (job) {
      drawJob(h, job);
      if (job.status === "pending" || job.status === "running") {
        polling = setTimeout(function () { follow(h, id); }, 1500);
      }
    }, function (err) {
      if (err.status === 404) { sessionStorage.removeItem("hm_print_job"); return; }
      h.failed(err);
    });
  }

  function drawPrintAll(h) {
    var box = h.$("print-all");
    if (!box) { return; }
    h.clear(box);
    var size = h.el("select", { id: "print-size" }, [
      h.el("option", { value: "a6", text: h.t("printA6") }),
      h.el("option", { value: "a5", text: h.t("printA5") })
    ]);
    box.appendChild(h.el("h2", { text: h.t("printAll") }));
    box.appendChild(h.el("p", { class: "hint", text: h.t("printAllHint") }));
    box.appendChild(h.el("div", { class: "row" }, [
      h.el("label", {}, [h.el("span", { text: h.t("printSize") }), size]),
      h.el("button", { id: "print-start", type: "button", text: h.t("printStart"), onclick: function () {
        h.api("/admin/api/print-jobs", { method: "POST", body: JSON.stringify({ size: size.value }), headers: { "Content-Type": "application/json" } }).then(function (job) {
          sessionStorage.setItem("hm_print_job", String(job.id));
          drawJob(h, job);
          follow(h, job.id);
        }, h.failed);
      } })
    ]));
    box.appendChild(h.el("div", { id: "print-status", class: "br-print-status" }));
    var me = window.huomaAdmin && window.huomaAdmin.me ? window.huomaAdmin.me() : null;
    var last = sessionStorage.getItem("hm_print_job");
    if (last && me && me.role === "admin" && !me.regions.length) { follow(h, last); }
  }

  function load(view, h) {
    if (view === "brand") { loadBrand(h); }
    if (view === "entries") { drawPrintAll(h); }
  }

  window.HuomaAdminExtensions = (window.HuomaAdminExtensions || []).concat([
    { views: ["brand", "entries"], text: TEXT, load: load, storeDetail: storeDetail, entryDetail: entryDetail }
  ]);
})();
