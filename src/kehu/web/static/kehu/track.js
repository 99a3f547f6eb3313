/*
 * kehu track.js — page views, identify after sign-in and custom events for websites and H5
 * pages, sent to kehu's Segment-compatible /api/v1/batch. No build step, no dependencies.
 *
 *   <script src="https://crm.example.com/static/kehu/track.js"
 *           data-write-key="kh_…" data-host="https://crm.example.com"></script>
 *   kehu.track("Signed Up", {plan: "pro"});
 *   kehu.identify("app-user-42", {name: "李娜", email: "lina@example.com"});
 *
 * Use a key with only the `ingest` scope: it is visible in the page. The anonymous id lives in
 * localStorage ("kehu_anonymous_id"); unsent events too ("kehu_queue"), so a reload or a
 * failed request loses nothing. Events are sent in batches (every `flushAt` events or
 * `flushInterval` ms, and when the page is hidden) and retried with backoff.
 */
(function (window) {
  "use strict";
  var STORE = window.localStorage;
  var QUEUE_KEY = "kehu_queue", ANON_KEY = "kehu_anonymous_id", USER_KEY = "kehu_user_id";
  var MAX_QUEUE = 1000, MAX_BATCH = 100;
  var kehu = window.kehu && window.kehu._loaded ? window.kehu : {};
  var options = {writeKey: "", host: "", flushAt: 20, flushInterval: 5000, autoPage: true,
                 maxRetryDelay: 60000};
  var timer = null, sending = false, failures = 0;

  function read(key) { try { return STORE.getItem(key); } catch (e) { return null; } }
  function write(key, value) {
    try { if (value === null) { STORE.removeItem(key); } else { STORE.setItem(key, value); } }
    catch (e) { /* storage full or blocked: events stay in memory */ }
  }
  function uuid() {
    if (window.crypto && window.crypto.randomUUID) { return window.crypto.randomUUID(); }
    return "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, function (c) {
      var r = Math.random() * 16 | 0;
      return (c === "x" ? r : (r & 3 | 8)).toString(16);
    });
  }
  var memoryQueue = null;
  function queue() {
    if (memoryQueue) { return memoryQueue; }
    try { memoryQueue = JSON.parse(read(QUEUE_KEY) || "[]"); } catch (e) { memoryQueue = []; }
    return memoryQueue;
  }
  function save() { write(QUEUE_KEY, JSON.stringify(queue())); }

  function anonymousId() {
    var id = read(ANON_KEY);
    if (!id) { id = uuid(); write(ANON_KEY, id); }
    return id;
  }
  function context() {
    return {
      library: {name: "kehu-track.js", version: "1"},
      page: {url: window.location.href, path: window.location.pathname,
             referrer: document.referrer, title: document.title},
      userAgent: window.navigator.userAgent,
      locale: window.navigator.language
    };
  }
  function enqueue(message) {
    message.messageId = uuid();
    message.timestamp = new Date().toISOString();
    message.anonymousId = anonymousId();
    var userId = read(USER_KEY);
    if (userId && !message.userId) { message.userId = userId; }
    message.context = context();
    var items = queue();
    items.push(message);
    if (items.length > MAX_QUEUE) { items.splice(0, items.length - MAX_QUEUE); }
    save();
    if (items.length >= options.flushAt) { kehu.flush(); } else { schedule(options.flushInterval); }
  }
  function schedule(delay) {
    if (timer) { return; }
    timer = window.setTimeout(function () { timer = null; kehu.flush(); }, delay);
  }

  kehu.flush = function (useBeacon) {
    var items = queue();
    if (sending || !items.length || !options.writeKey) { return; }
    var batch = items.slice(0, MAX_BATCH);
    var body = JSON.stringify({batch: batch, writeKey: options.writeKey,
                               sentAt: new Date().toISOString()});
    var url = options.host.replace(/\/$/, "") + "/api/v1/batch";
    function done() {
      var sent = {};
      batch.forEach(function (m) { sent[m.messageId] = true; });
      memoryQueue = queue().filter(function (m) { return !sent[m.messageId]; });
      save();
      failures = 0;
    }
    if (useBeacon && window.navigator.sendBeacon) {
      // The page is going away: hand the batch to the browser; the messageIds make a repeat
      // harmless if it was sent before.
      if (window.navigator.sendBeacon(url, new Blob([body], {type: "text/plain"}))) { done(); }
      return;
    }
    sending = true;
    // text/plain with the key in the body: a simple request, no CORS preflight.
    window.fetch(url, {method: "POST", body: body, keepalive: body.length < 60000,
                       headers: {"Content-Type": "text/plain"}})
      .then(function (response) {
        sending = false;
        if (response.ok || (response.status >= 400 && response.status < 500 &&
                            response.status !== 429 && response.status !== 408)) {
          // Stored, or refused for good (a bad key or body): do not send it again.
          done();
          if (queue().length) { schedule(0); }
          return;
        }
        retry(parseInt(response.headers.get("Retry-After") || "0", 10) * 1000);
      })
      .catch(function () { sending = false; retry(0); });
  };
  function retry(after) {
    failures += 1;
    var backoff = Math.min(options.maxRetryDelay, 1000 * Math.pow(2, failures - 1));
    schedule(Math.max(after, backoff * (0.5 + Math.random() / 2)));
  }

  kehu.init = function (config) {
    for (var name in config) {
      if (Object.prototype.hasOwnProperty.call(config, name)) { options[name] = config[name]; }
    }
    if (options.autoPage) { kehu.page(); }
    if (queue().length) { schedule(0); }
  };
  kehu.page = function (name, properties) {
    enqueue({type: "page", name: name || document.title, properties: properties || {}});
  };
  kehu.track = function (event, properties) {
    enqueue({type: "track", event: event, properties: properties || {}});
  };
  /* After sign-in: ties this browser's earlier events to the user (kehu stitches them). */
  kehu.identify = function (userId, traits) {
    if (userId) { write(USER_KEY, String(userId)); }
    enqueue({type: "identify", userId: userId ? String(userId) : undefined,
             traits: traits || {}});
    kehu.flush();
  };
  kehu.alias = function (userId, previousId) {
    enqueue({type: "alias", userId: String(userId), previousId: previousId || anonymousId()});
  };
  /* On sign-out: a new anonymous id, so the next person on this device is not this user. */
  kehu.reset = function () { write(USER_KEY, null); write(ANON_KEY, null); };
  kehu.anonymousId = anonymousId;
  kehu._loaded = true;

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") { kehu.flush(true); }
  });
  window.kehu = kehu;

  var script = document.currentScript;
  if (script && script.getAttribute("data-write-key")) {
    kehu.init({writeKey: script.getAttribute("data-write-key"),
               host: script.getAttribute("data-host") || "",
               autoPage: script.getAttribute("data-auto-page") !== "false"});
  }
}(window));
