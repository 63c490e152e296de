// Huoma customer page: location -> nearest store -> its group QR code.
// Fallback ladder when there is no usable location: the entry's pinned store, the store
// remembered from the last visit, a city and store picker, then the brand's fallback group.
(function () {
  "use strict";

  var T = {
    zh: {
      locating: "正在查找离您最近的门店…",
      longpress: "长按识别二维码，加入门店福利群",
      longpressFallback: "长按识别二维码，添加门店客服",
      longpressBrand: "长按识别二维码，加入品牌福利群",
      sentOn: function (from) { return from + "的福利群暂时满员，为您推荐附近有群的门店。"; },
      brandNote: "本店福利群暂时满员，请先加入品牌福利群。",
      relocate: "重新定位",
      navigate: "到店导航",
      fallbackNote: "本店福利群暂时满员，请先添加门店客服，稍后拉您进群。",
      noGroupNote: "本店福利群暂时满员，请稍后再试或咨询店员。",
      notThis: "不是这家店？",
      chooseNearby: "请选择您所在的门店",
      coarseNote: "定位不够精确，请确认您所在的门店。",
      searchAll: "按城市查找门店",
      pickTitle: "选择门店",
      pickNoLocation: "没有获取到您的位置，请选择门店。",
      pickNoStore: "附近没有找到门店，请选择门店。",
      city: "城市",
      chooseCity: "请选择城市",
      search: "搜索",
      searchHint: "门店名或地址",
      noResults: "没有找到匹配的门店",
      brandOffer: "或者加入品牌福利群：",
      netTitle: "网络开小差了",
      netBody: "请检查网络后重试。",
      retry: "重试",
      busy: function (s) { return "扫码的人有点多，" + s + " 秒后自动重试…"; },
      busyKept: function (s) { return "扫码的人有点多，请 " + s + " 秒后再试。"; },
      tooFast: function (s) { return "您切换门店太频繁，请 " + s + " 秒后再试。"; },
      stillDenied: "仍然没有获取到您的位置。请允许定位：在微信里点右上角 ··· → 设置 → 位置，或在手机的“设置”中允许微信使用位置信息，然后点“重新定位”。也可以直接选择门店：",
      away: function (m) { return m < 50 ? "就在附近" : m < 1000 ? "距您 " + m + " 米" : "距您 " + (m / 1000).toFixed(1) + " 公里"; },
      title: "加入门店福利群"
    },
    en: {
      locating: "Finding the store nearest to you…",
      longpress: "Press and hold the QR code to join the store's group",
      longpressFallback: "Press and hold the QR code to add the store's staff",
      longpressBrand: "Press and hold the QR code to join the brand's group",
      sentOn: function (from) { return "The groups of " + from + " are full; here is the nearest store with one."; },
      brandNote: "The store's groups are full right now; join the brand's group meanwhile.",
      relocate: "Locate me again",
      navigate: "Directions",
      fallbackNote: "The store's groups are full right now. Add the staff and they will invite you.",
      noGroupNote: "The store's groups are full right now. Please try later or ask the staff.",
      notThis: "Not this store?",
      chooseNearby: "Which store are you at?",
      coarseNote: "Your location is approximate; please confirm your store.",
      searchAll: "Find a store by city",
      pickTitle: "Choose a store",
      pickNoLocation: "We could not get your location. Please choose a store.",
      pickNoStore: "No store is near you. Please choose a store.",
      city: "City",
      chooseCity: "Choose a city",
      search: "Search",
      searchHint: "Store name or address",
      noResults: "No matching store",
      brandOffer: "Or join the brand's group:",
      netTitle: "Network problem",
      netBody: "Please check your connection and try again.",
      retry: "Try again",
      busy: function (s) { return "Lots of scans right now; trying again in " + s + " s…"; },
      busyKept: function (s) { return "Lots of scans right now; please try again in " + s + " s."; },
      tooFast: function (s) { return "You are switching stores too often; please try again in " + s + " s."; },
      stillDenied: "We still could not get your location. To allow it: in WeChat tap ··· at the top right → Settings → Location, or allow WeChat to use your location in the phone's Settings, then tap \u201cLocate me again\u201d. Or choose your store:",
      away: function (m) { return m < 50 ? "Right here" : m < 1000 ? m + " m away" : (m / 1000).toFixed(1) + " km away"; },
      title: "Join the store's group"
    }
  };

  var langs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || "zh"];
  var forced = /[?&]lang=(zh|en)\b/.exec(location.search);
  var lang = forced ? forced[1] : (/^en\b/i.test(langs[0] || "") ? "en" : "zh");
  var t = T[lang];
  var entry = decodeURIComponent(location.pathname.replace(/^\/s\/?/, "").split("/")[0] || "");
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(entry)) entry = "";

  var LOCATE_TIMEOUT_MS = 8000;   // the browser's own timeout
  var LOCATE_HARD_MS = 10000;     // some in-app browsers never call back at all

  function $(id) { return document.getElementById(id); }
  function store(key, value) {
    try { if (value === undefined) return localStorage.getItem(key); localStorage.setItem(key, value); } catch (e) { /* private mode */ }
    return null;
  }

  function translate() {
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    if (lang !== "zh") document.title = t.title;
    var nodes = document.querySelectorAll("[data-t]");
    for (var i = 0; i < nodes.length; i++) nodes[i].textContent = t[nodes[i].getAttribute("data-t")];
    var ph = document.querySelectorAll("[data-tp]");
    for (var j = 0; j < ph.length; j++) ph[j].placeholder = t[ph[j].getAttribute("data-tp")];
  }

  function show(id) {
    var screens = document.querySelectorAll(".screen");
    for (var i = 0; i < screens.length; i++) screens[i].hidden = screens[i].id !== id;
    window.scrollTo(0, 0);
  }

  var lastRequest = null;
  var skewMs = 0;  // the server's clock minus this phone's, from the last answer's Date header
  // renew: the request only renews the link of the group on screen (its image expiring or failed
  // to load). The server counts it as a renewal, not a scan, when our sticky token still holds
  // that group; the retry button and the first request of a screen are never renewals.
  // hasQr: a group's QR is what the customer has (the result screen was drawn with one). A later
  // request never takes it away for a 429: the result comes back with a note saying why.
  var hasQr = false;
  function limited(text) {
    $("limited").textContent = text;
    $("limited").hidden = !text;
  }
  function api(path, done, renew) {
    lastRequest = function (again) { api(path, done, again === true); };
    $("busy-text").textContent = t.locating;
    // A renewal of the link on screen keeps the QR on screen while it is asked for.
    if (!(renew && !$("result").hidden)) show("busy");
    var vid = store("hm_vid"), stk = store("hm_stk");
    var sep = path.indexOf("?") < 0 ? "?" : "&";
    var url = path;
    if (vid && path.indexOf("/api/v1/route") === 0) url += sep + "vid=" + encodeURIComponent(vid) + (stk ? "&stk=" + encodeURIComponent(stk) + (renew ? "&renew=1" : "") : "");
    var xhr = new XMLHttpRequest();
    xhr.open("GET", url);
    xhr.timeout = 8000;
    xhr.onload = function () {
      var body = null;
      if (xhr.status === 429) {
        var after = Math.max(1, parseInt(xhr.getResponseHeader("Retry-After"), 10) || 5);
        var code = "";
        try { code = JSON.parse(xhr.responseText).error.code; } catch (e) { code = ""; }
        if (hasQr) {
          // The customer keeps the QR they have, told honestly why nothing changed; a renewal
          // of its link is asked again once the wait is over.
          show("result");
          limited(code === "picks_limited" ? t.tooFast(after) : t.busyKept(after));
          if (renew) setTimeout(function () { api(path, done, renew); }, after * 1000);
          return;
        }
        if (code === "picks_limited") {
          // Switching stores too fast, with no QR yet: back to the list, told when to pick again.
          show(lastList || "picker");
          return limited(t.tooFast(after));
        }
        // Too many scans (from this network, or this phone): wait as told, then ask again.
        var wait = Math.min(30, after);
        $("busy-text").textContent = t.busy(wait);
        return setTimeout(function () { api(path, done, renew); }, wait * 1000);
      }
      limited("");
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
      if (xhr.status >= 500 || body === null) return show("failed");
      var date = Date.parse(xhr.getResponseHeader("Date") || "");
      if (!isNaN(date)) skewMs = date - Date.now();
      done(body, xhr.status);
    };
    xhr.onerror = xhr.ontimeout = function () { show("failed"); };
    xhr.send();
  }

  // QR URLs are absolute (for other clients); this page loads them from its own origin, which the
  // content security policy insists on.
  function local(url) {
    var m = /^https?:\/\/[^\/]+(\/.*)$/.exec(url);
    return m ? m[1] : url;
  }

  // Group QR links expire (a photographed link is worth little to a spammer). Shortly before the
  // one on screen does, the page asks again: a sticky visitor keeps their group, with a new link.
  var linkRefreshAt = 0;
  function showQr(img, group) {
    img.onload = function () { img.failures = 0; };
    img.onerror = function () {
      // Expired while the page slept, or replaced by a new code: ask again, once.
      img.failures = (img.failures || 0) + 1;
      if (img.failures === 1 && lastRequest) lastRequest(true);
    };
    img.src = local(group.qr_url);
    img.alt = group.name;
    linkRefreshAt = group.qr_expires_at ? group.qr_expires_at * 1000 - skewMs - 30000 : 0;
  }
  function refreshIfStale() {
    if (document.hidden || !linkRefreshAt || Date.now() < linkRefreshAt || !lastRequest) return;
    if ($("result").hidden) return;  // the picker's brand code: not while someone types
    linkRefreshAt = 0;
    lastRequest(true);
  }

  function remember(body) {
    if (body.visitor) store("hm_vid", body.visitor);
    if (body.sticky) store("hm_stk", body.sticky);
  }

  function route(params) {
    api("/api/v1/route?" + params + (entry ? "&entry=" + entry : ""), function (body, status) {
      if (status === 404) return picker(t.pickNoLocation);
      if (status >= 400) return picker(t.pickNoLocation);
      remember(body);
      render(body);
    });
  }

  function render(body) {
    if (body.status === "ok" && body.coarse && body.alternatives.length) return choose(body, t.coarseNote);
    if (body.status === "ok" || body.status === "fallback" || body.status === "no_group") return result(body);
    if (body.status === "no_store_nearby") return picker(t.pickNoStore, body.group);
    return noLocation(body);
  }

  // The brand's captions (the page carries them) in Chinese; the built-in ones in English.
  var B = lang === "zh" ? $("app").dataset : {};
  function caption(shows) {
    return shows === "staff" ? B.staff || t.longpressFallback : shows === "brand" ? B.brand || t.longpressBrand : B.group || t.longpress;
  }

  // Directions to the store: WeChat's own map inside WeChat when the JS-SDK is configured, else
  // AMap's public marker page (a plain link: nothing is fetched from it unless it is tapped).
  function directions(s) {
    var a = $("nav");
    a.href = "https://uri.amap.com/marker?position=" + s.lng + "," + s.lat + "&name=" + encodeURIComponent(s.name) +
      "&src=huoma&coordinate=gaode&callnative=1";
    a.onclick = function (e) {
      if (!wxReady) return true;
      e.preventDefault();
      window.wx.openLocation({ latitude: Number(s.lat), longitude: Number(s.lng), name: s.name, address: s.address, scale: 16 });
      return false;
    };
  }

  function result(body) {
    var s = body.store;
    store("hm_last_store", s.id);
    $("store-name").textContent = s.name;
    $("store-meta").textContent = (body.distance_m !== null ? t.away(body.distance_m) + " · " : "") + s.address;
    directions(s);
    $("campaign").hidden = !body.campaign;
    $("campaign").textContent = body.campaign || "";
    var note = $("note");
    var moved = body.sent_on && body.sent_on.from;
    note.hidden = body.status === "ok" && !moved;
    note.textContent = moved ? t.sentOn(body.sent_on.from.name)
      : body.shows === "brand" ? t.brandNote
      : body.status === "fallback" ? t.fallbackNote : t.noGroupNote;
    var qr = $("qr");
    qr.parentNode.hidden = !body.group;
    hasQr = !!body.group;
    if (body.group) {
      showQr(qr, body.group);
      $("hint").textContent = caption(body.shows);
    }
    var alts = body.alternatives || [];
    $("not-this").hidden = false;
    $("not-this").onclick = function () {
      if (alts.length) choose({ store: s, alternatives: alts }, "");
      else picker("");
    };
    show("result");
  }

  function item(s, distance, onPick) {
    var li = document.createElement("li");
    var b = document.createElement("button");
    b.type = "button";
    b.textContent = s.name;
    var small = document.createElement("small");
    small.textContent = (distance !== null && distance !== undefined ? t.away(distance) + " · " : "") + s.address;
    b.appendChild(small);
    b.onclick = function () { onPick(s); };
    li.appendChild(b);
    return li;
  }

  function pickStore(s) { route("store=" + encodeURIComponent(s.id)); }

  function choose(body, note) {
    var list = $("choices");
    list.textContent = "";
    if (body.store) list.appendChild(item(body.store, body.distance_m, pickStore));
    for (var i = 0; i < body.alternatives.length; i++) {
      list.appendChild(item(body.alternatives[i].store, body.alternatives[i].distance_m, pickStore));
    }
    $("choose-note").hidden = !note;
    $("choose-note").textContent = note;
    $("open-picker").onclick = function () { picker(""); };
    lastList = "choose";
    show("choose");
  }

  function noLocation(body) {
    // The entry had no pinned store: try the store of the last visit, then the picker.
    var last = store("hm_last_store");
    if (last && !noLocation.triedLast) {
      noLocation.triedLast = true;
      return route("store=" + encodeURIComponent(last));
    }
    picker(t.pickNoLocation, body.group);
  }

  var citiesLoaded = false;
  var lastList = "";  // the list the customer picks from (choose or picker), to come back to
  function picker(note, brandGroup) {
    // No location (refused, failed, or far away): the customer can ask to be located again.
    $("relocate").hidden = note !== t.pickNoLocation;
    // Asked again and still refused: say so, and how to allow it, rather than the same screen.
    if (note === t.pickNoLocation && relocating === "refused") note = t.stillDenied;
    relocating = "";
    $("picker-note").className = note === t.stillDenied ? "note" : "meta";
    lastList = "picker";
    $("picker-note").hidden = !note;
    $("picker-note").textContent = note || "";
    $("brand").hidden = !brandGroup;
    if (brandGroup) showQr($("brand-qr"), brandGroup);
    $("brand-hint").textContent = caption("brand");
    show("picker");
    if (!citiesLoaded) {
      var xhr = new XMLHttpRequest();
      xhr.open("GET", "/api/v1/cities");
      xhr.onload = function () {
        var body;
        try { body = JSON.parse(xhr.responseText); } catch (e) { return; }
        var sel = $("city");
        for (var i = 0; i < body.cities.length; i++) {
          var o = document.createElement("option");
          o.value = o.textContent = body.cities[i].name;
          sel.appendChild(o);
        }
        citiesLoaded = true;
      };
      xhr.send();
    }
  }

  var searchTimer = null;
  function search() {
    var city = $("city").value, q = $("q").value.trim();
    var list = $("stores");
    if (!city && !q) { list.textContent = ""; return; }
    var xhr = new XMLHttpRequest();
    xhr.open("GET", "/api/v1/stores?limit=30&city=" + encodeURIComponent(city) + "&q=" + encodeURIComponent(q));
    xhr.onload = function () {
      var body;
      try { body = JSON.parse(xhr.responseText); } catch (e) { return; }
      list.textContent = "";
      if (!body.stores || !body.stores.length) {
        var li = document.createElement("li");
        li.className = "meta";
        li.textContent = t.noResults;
        return list.appendChild(li);
      }
      for (var i = 0; i < body.stores.length; i++) list.appendChild(item(body.stores[i], null, pickStore));
    };
    xhr.send();
  }

  var wxReady = false;
  // "" normally; "asked" while 重新定位 runs, "refused" once it got no location again.
  var relocating = "";
  function relocate() {
    relocating = "asked";
    locate();
  }
  function locate() {
    noLocation.triedLast = false;
    var settled = false;
    function done(params) {
      if (settled) return;
      settled = true;
      if (relocating) relocating = params ? "" : "refused";
      clearTimeout(hard);
      route(params);
    }
    function fail() { done(""); }  // no location: pinned entry, then the ladder
    var hard = setTimeout(fail, LOCATE_HARD_MS);
    function browser() {
      if (!navigator.geolocation) return fail();
      navigator.geolocation.getCurrentPosition(function (pos) {
        var c = pos.coords;
        done("lat=" + c.latitude.toFixed(6) + "&lng=" + c.longitude.toFixed(6) + "&coord=wgs84&src=gps&acc=" + Math.round(c.accuracy || 0));
      }, fail, { enableHighAccuracy: false, timeout: LOCATE_TIMEOUT_MS, maximumAge: 60000 });
    }
    // Inside WeChat, with the JS-SDK configured on the server, WeChat's own GCJ-02 fix first.
    if (!window.wx || !/MicroMessenger/i.test(navigator.userAgent)) return browser();
    var xhr = new XMLHttpRequest();
    xhr.open("GET", "/api/v1/wx-config?url=" + encodeURIComponent(location.href.split("#")[0]));
    xhr.timeout = 3000;
    xhr.onload = function () {
      var cfg;
      try { cfg = JSON.parse(xhr.responseText); } catch (e) { return browser(); }
      if (xhr.status !== 200) return browser();
      window.wx.config({ appId: cfg.appId, timestamp: cfg.timestamp, nonceStr: cfg.nonceStr, signature: cfg.signature, jsApiList: ["getLocation", "openLocation", "updateAppMessageShareData", "updateTimelineShareData"] });
      window.wx.error(browser);
      window.wx.ready(function () {
        wxReady = true;
        if (cfg.share) {
          var share = { title: cfg.share.title, desc: cfg.share.desc, link: location.href.split("#")[0], imgUrl: cfg.share.imgUrl };
          if (window.wx.updateAppMessageShareData) window.wx.updateAppMessageShareData(share);
          if (window.wx.updateTimelineShareData) window.wx.updateTimelineShareData(share);
        }
        window.wx.getLocation({
          type: "gcj02",
          success: function (res) {
            done("lat=" + Number(res.latitude).toFixed(6) + "&lng=" + Number(res.longitude).toFixed(6) + "&coord=gcj02&src=wechat&acc=" + Math.round(res.accuracy || 0));
          },
          fail: browser,
          cancel: fail
        });
      });
    };
    xhr.onerror = xhr.ontimeout = browser;
    xhr.send();
  }

  translate();
  $("retry").onclick = function () { if (lastRequest) lastRequest(); else locate(); };
  $("relocate").onclick = relocate;
  $("relocate-failed").onclick = relocate;
  $("city").onchange = search;
  document.addEventListener("visibilitychange", refreshIfStale);
  setInterval(refreshIfStale, 15000);
  $("q").oninput = function () { clearTimeout(searchTimer); searchTimer = setTimeout(search, 250); };
  locate();
})();
