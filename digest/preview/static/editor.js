/* digest serve: the issue editor. Plain script, no library, nothing loaded from elsewhere.
   The form is drawn from the state the server sends (the issue as parsed, its problems and
   markdown previews); field changes are saved as "set" changes of key paths, structural
   changes (add, delete, move) as operations; every write names the file's version. */
(function () {
  "use strict";
  var state = JSON.parse(document.getElementById("state").textContent);
  var token = document.querySelector('meta[name="digest-token"]').content;
  var form = document.getElementById("fields");
  var dirty = {}, timer = null, saving = null;
  var rtl = state.direction === "rtl";
  var LTR = {url: 1, src: 1, date: 1};

  function $(id) { return document.getElementById(id); }
  function el(tag, attrs, kids) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") e.textContent = attrs[k]; else if (attrs[k] !== null) e.setAttribute(k, attrs[k]);
    });
    (kids || []).forEach(function (k) { if (k) e.appendChild(k); });
    return e;
  }
  function say(text) { $("status").textContent = text; }

  function post(body) {
    return fetch("api", {
      method: "POST", cache: "no-store",
      headers: {"Content-Type": "application/json", "X-Digest-Token": token},
      body: JSON.stringify(body)
    }).then(function (r) { return r.json().then(function (j) { j.status = r.status; return j; }); });
  }

  /* --- the form -------------------------------------------------------------------- */
  function field(path, label, value, kind) {
    var id = "f:" + path, key = path.split(".").pop();
    var input;
    if (kind === "textarea") {
      input = el("textarea", {id: id, rows: String(Math.min(8, Math.max(2, String(value || "").split("\n").length + 1)))});
      input.value = value == null ? "" : String(value);
    } else if (kind === "checkbox") {
      input = el("input", {id: id, type: "checkbox"});
      input.checked = !!value;
    } else {
      input = el("input", {id: id, type: kind === "date" ? "text" : kind || "text", inputmode: null});
      if (kind === "date") input.setAttribute("placeholder", "YYYY-MM-DD");
      input.value = value == null ? "" : String(value);
    }
    input.dataset.path = path;
    input.setAttribute("aria-describedby", "e:" + path);
    if (kind !== "checkbox") input.setAttribute("dir", LTR[key] || kind === "date" ? "ltr" : rtl ? "rtl" : "auto");
    input.addEventListener(kind === "checkbox" ? "change" : "input", function () {
      dirty[path] = kind === "checkbox" ? input.checked : input.value;
      say("Not saved yet");
      if ($("autosave").checked) { clearTimeout(timer); timer = setTimeout(save, 700); }
    });
    var row = el("div", {"class": kind === "checkbox" ? "row check" : "row"}, [
      el("label", {"for": id, text: label}), input,
      el("p", {"class": "error", id: "e:" + path, "data-errors": path})
    ]);
    if (kind === "textarea" || key === "title" || key === "src") {
      // The rendered preview describes the field (read after its errors), as digest renders it;
      // an image's, the local image as the site publishes it.
      row.appendChild(el("div", {"class": "md", id: "p:" + path, dir: rtl ? "rtl" : "auto"}));
      input.setAttribute("aria-describedby", "e:" + path + " p:" + path);
    }
    return row;
  }

  function button(text, action, extra) {
    var b = el("button", Object.assign({type: "button", text: text}, extra || {}));
    b.addEventListener("click", action);
    return b;
  }

  function sectionOptions(select, sections, prefix, depth) {
    (sections || []).forEach(function (s, i) {
      var path = prefix + "[" + (i + 1) + "]";
      select.appendChild(el("option", {value: path, text: "\u00a0".repeat(depth * 2) + (s.title || "Section " + (i + 1))}));
      sectionOptions(select, s.sections, path + ".sections", depth + 1);
    });
  }

  function item(it, path, count, sectionPath) {
    var n = Number(path.match(/\[(\d+)\]$/)[1]);
    var listPath = path.replace(/\[\d+\]$/, "");
    var img = it.image || {};
    var box = el("fieldset", {"class": "item", "data-path": path}, [
      el("legend", {text: "Item " + n + (it.title ? ": " + it.title : "")}),
      el("span", {"class": "handle", draggable: "true", title: "Drag to move", "aria-hidden": "true", text: "⠿ drag"}),
      field(path + ".title", "Title", it.title),
      field(path + ".url", "URL", it.url, "url"),
      field(path + ".summary", "Summary", it.summary, "textarea"),
      field(path + ".source", "Source", it.source),
      field(path + ".author", "Author", it.author),
      field(path + ".date", "Date", it.date, "date"),
      field(path + ".image.src", "Image", img.src),
      field(path + ".image.alt", "Image alt text", img.alt),
      el("p", {"class": "error", "data-errors": path})
    ]);
    var upload = el("input", {type: "file", accept: state.imageTypes, id: "u:" + path});
    upload.addEventListener("change", function () { if (upload.files[0]) sendImage(path, upload.files[0]); });
    box.appendChild(el("div", {"class": "row"}, [el("label", {"for": "u:" + path, text: "Upload image"}), upload]));
    var target = el("select", {id: "m:" + path, "aria-label": "Section to move to"});
    sectionOptions(target, state.doc.sections, "sections", 0);
    target.value = sectionPath;
    box.appendChild(el("div", {"class": "bar"}, [
      button("Move up", function () { change({op: "move", path: path, to: listPath, index: n - 2}, path.replace(/\[\d+\]$/, "[" + (n - 1) + "]"), "Move up"); },
             n === 1 ? {disabled: ""} : {}),
      button("Move down", function () { change({op: "move", path: path, to: listPath, index: n}, path.replace(/\[\d+\]$/, "[" + (n + 1) + "]"), "Move down"); },
             n === count ? {disabled: ""} : {}),
      target,
      button("Move to section", function () {
        if (target.value === sectionPath) return;
        change({op: "move", path: path, to: target.value + ".items", index: null}, null, null);
      }),
      button("Delete item", function () { change({op: "delete", path: path}, sectionPath, "Add item"); })
    ]));
    box.querySelector(".handle").addEventListener("dragstart", function (e) {
      e.dataTransfer.setData("text/x-digest-item", path); e.dataTransfer.effectAllowed = "move";
    });
    box.addEventListener("dragover", function (e) {
      if (e.dataTransfer.types.indexOf("text/x-digest-item") >= 0 || e.dataTransfer.types.indexOf("Files") >= 0) e.preventDefault();
    });
    box.addEventListener("drop", function (e) {
      e.preventDefault(); e.stopPropagation();
      if (e.dataTransfer.files && e.dataTransfer.files.length) { sendImage(path, e.dataTransfer.files[0]); return; }
      var from = e.dataTransfer.getData("text/x-digest-item");
      if (!from || from === path) return;
      var sameList = from.replace(/\[\d+\]$/, "") === listPath, fromN = Number(from.match(/\[(\d+)\]$/)[1]);
      change({op: "move", path: from, to: listPath, index: sameList && fromN < n ? n - 2 : n - 1}, null, null);
    });
    return box;
  }

  function section(s, path, depth) {
    var n = Number(path.match(/\[(\d+)\]$/)[1]);
    var box = el("fieldset", {"class": "section", "data-path": path}, [
      el("legend", {text: (depth ? "Sub-section " : "Section ") + n + (s.title ? ": " + s.title : "")}),
      field(path + ".title", "Section title", s.title),
      field(path + ".intro", "Section intro", s.intro, "textarea"),
      el("p", {"class": "error", "data-errors": path})
    ]);
    var items = s.items || [];
    var list = el("div", {"class": "items", "data-list": path + ".items"});
    items.forEach(function (it, i) { list.appendChild(item(it || {}, path + ".items[" + (i + 1) + "]", items.length, path)); });
    list.appendChild(el("p", {"class": "error", "data-errors": path + ".items"}));
    box.appendChild(list);
    list.addEventListener("dragover", function (e) { if (e.dataTransfer.types.indexOf("text/x-digest-item") >= 0) e.preventDefault(); });
    list.addEventListener("drop", function (e) {
      var from = e.dataTransfer.getData("text/x-digest-item");
      if (from) { e.preventDefault(); change({op: "move", path: from, to: path + ".items", index: null}, null, null); }
    });
    var bar = el("div", {"class": "bar"}, [
      button("Add item", function () { change({op: "add_item", list: path + ".items"}, path + ".items[" + (items.length + 1) + "]", "title"); }),
      button(depth ? "Delete sub-section" : "Delete section", function () {
        if (confirm("Delete this section and its items?")) change({op: "delete", path: path}, null, null);
      })
    ]);
    if (!depth) bar.appendChild(button("Add sub-section", function () { change({op: "add_section", list: path + ".sections"}, null, null); }));
    box.appendChild(bar);
    (s.sections || []).forEach(function (sub, i) { box.appendChild(section(sub || {}, path + ".sections[" + (i + 1) + "]", 1)); });
    return box;
  }

  function draw() {
    var d = state.doc || {};
    form.textContent = "";
    var top = el("fieldset", {"class": "issue"}, [el("legend", {text: "Issue"})]);
    [["title", "Title"], ["subject", "Subject"], ["preheader", "Preheader"]].forEach(function (f) { top.appendChild(field(f[0], f[1], d[f[0]])); });
    top.appendChild(field("date", "Date", d.date, "date"));
    top.appendChild(field("draft", "Draft", d.draft, "checkbox"));
    top.appendChild(field("intro", "Intro", d.intro, "textarea"));
    top.appendChild(el("p", {"class": "error", "data-errors": "sections"}));
    form.appendChild(top);
    (d.sections || []).forEach(function (s, i) { form.appendChild(section(s || {}, "sections[" + (i + 1) + "]", 0)); });
    form.appendChild(el("div", {"class": "bar"}, [button("Add section", function () { change({op: "add_section", list: "sections"}, null, null); })]));
    var end = el("fieldset", {"class": "issue"}, [el("legend", {text: "End"}), field("outro", "Outro", d.outro, "textarea")]);
    form.appendChild(end);
    var select = $("add-section");
    select.textContent = "";
    sectionOptions(select, d.sections, "sections", 0);
    if (select.options.length) select.value = select.options[select.options.length - 1].value;
    $("commit-box").hidden = !state.git;
    $("title-now").textContent = d.title || "";
    showPreviews(state.previews);
    showProblems(state.problems);
  }

  function showPreviews(previews) {
    Object.keys(previews || {}).forEach(function (k) { var p = $("p:" + k); if (p) p.innerHTML = previews[k]; });
  }

  function showProblems(problems) {
    document.querySelectorAll(".error").forEach(function (e) { e.textContent = ""; });
    document.querySelectorAll("[aria-invalid]").forEach(function (e) { e.removeAttribute("aria-invalid"); });
    var general = [];
    (problems || []).forEach(function (p) {
      var key = p.key, box = null;
      while (key && !(box = document.querySelector('[data-errors="' + CSS.escape(key) + '"]'))) key = key.replace(/(\.[A-Za-z_]+|\[\d+\])$/, "");
      var input = $("f:" + p.key);
      if (input && !p.warning) input.setAttribute("aria-invalid", "true");
      if (box) box.appendChild(el("span", {"class": p.warning ? "warn" : "bad", text: (p.warning ? "" : "Error: ") + p.message}));
      else general.push(p.text);
    });
    var g = $("general");
    g.hidden = !general.length;
    g.textContent = general.join("\n");
  }

  function refresh(next, focusPath, focusName) {
    state = next;
    draw();
    $("email").src = "/preview/" + state.number + "/email.html?v=" + state.version.slice(0, 12);
    freshMessage();
    if (focusPath) {
      var box = document.querySelector('[data-path="' + CSS.escape(focusPath) + '"]');
      // The focus stays on the control used, in the item's new place; at the top (or the bottom) of its
      // list that button is disabled, and the other move button takes the focus.
      var other = {"Move up": "Move down", "Move down": "Move up"}[focusName];
      function named(name) {
        return Array.prototype.find.call(box.querySelectorAll("button"), function (b) { return b.textContent === name && !b.disabled; });
      }
      var target = box && focusName && (focusName === "title" ? $("f:" + focusPath + ".title") : named(focusName) || (other && named(other)));
      if (target) target.focus(); else if (box) { box.setAttribute("tabindex", "-1"); box.focus(); }
    }
  }

  function freshMessage() {
    // The default commit message follows the file, until the editor writes one of their own.
    if (state.git && !$("commit-message").dataset.edited) {
      post({op: "commit_message"}).then(function (j) { if (j.message) $("commit-message").value = j.message; });
    }
  }

  function conflict(j) {
    $("conflict-text").textContent = (j.problems || []).map(function (p) { return p.text; }).join("\n") +
      " Your change is still in the form, not in the file: copy what you need, then Reload to edit the file as it is now.";
    $("conflict").hidden = false;
  }

  /* --- saving ---------------------------------------------------------------------- */
  function save() {
    clearTimeout(timer);
    if (saving) return saving.then(save);
    var sent = Object.assign({}, dirty);
    var changes = Object.keys(sent).map(function (k) { return [k, sent[k]]; });
    if (!changes.length) return Promise.resolve(true);
    say("Saving…");
    saving = post({op: "save", version: state.version, changes: changes}).then(function (j) {
      saving = null;
      showPreviews(j.previews || (j.state && j.state.previews));
      if (j.status === 200) {
        Object.keys(sent).forEach(function (k) { if (dirty[k] === sent[k]) delete dirty[k]; });
        state = j.state;
        showProblems(state.problems);
        $("title-now").textContent = (state.doc && state.doc.title) || "";
        $("email").src = "/preview/" + state.number + "/email.html?v=" + state.version.slice(0, 12);
        say(Object.keys(dirty).length ? "Not saved yet" : "Saved");
        freshMessage();
        return true;
      }
      if (j.status === 409) { conflict(j); say("Not saved: the file changed on disk"); return false; }
      showProblems(j.problems);
      say("Not saved: fix the errors shown");
      return false;
    }, function () { saving = null; say("Not saved: the server did not answer"); return false; });
    return saving;
  }

  function change(body, focusPath, focusName) {
    return save().then(function (ok) {
      if (ok === false) return;
      body.version = state.version;
      say("Saving…");
      return post(body).then(function (j) {
        if (j.status === 200) { refresh(j.state, focusPath, focusName); say("Saved"); return j; }
        if (j.status === 409) { conflict(j); say("Not saved: the file changed on disk"); return j; }
        showProblems(j.problems);
        say("Not saved: fix the errors shown");
        return j;
      });
    });
  }

  function sendImage(path, file) {
    say("Uploading " + file.name + "…");
    fetch("image?name=" + encodeURIComponent(file.name), {
      method: "POST", headers: {"Content-Type": "application/octet-stream", "X-Digest-Token": token}, body: file
    }).then(function (r) { return r.json().then(function (j) { j.status = r.status; return j; }); }).then(function (j) {
      if (j.status !== 200) { showProblems(j.problems.map(function (p) { p.key = path + ".image.src"; return p; })); say("Image not taken"); return; }
      var src = $("f:" + path + ".image.src");
      src.value = j.src;
      dirty[path + ".image.src"] = j.src;
      var alt = $("f:" + path + ".image.alt");
      say("Image saved as " + j.src + (alt.value ? "" : ": describe it in its alt text"));
      if (alt.value) save(); else alt.focus();
    });
  }

  function report(box, lines, css) {
    box.textContent = "";
    var ul = el("ul", {"class": css || ""});
    lines.forEach(function (l) { ul.appendChild(el("li", {text: l})); });
    box.appendChild(ul);
  }

  $("save").addEventListener("click", save);
  // Reload is the answer to a conflict: the file as it is now replaces the form (its text was shown as lost).
  $("reload").addEventListener("click", function () { dirty = {}; location.reload(); });
  $("add-link").addEventListener("click", function () {
    var url = $("add-url").value.trim();
    if (!url) { $("add-url").focus(); return; }
    say("Fetching " + url + "…");
    change({op: "add_link", url: url, section: $("add-section").value}, null, null).then(function (j) {
      if (!j) return;
      report($("report"), j.report || (j.problems || []).map(function (p) { return p.text; }), j.status === 200 ? "" : "bad");
      if (j.status === 200) $("add-url").value = "";
    });
  });
  $("collect").addEventListener("click", function () {
    say("Collecting…");
    change({op: "collect"}, null, null).then(function (j) {
      if (j) report($("report"), j.report || (j.problems || []).map(function (p) { return p.text; }), j.status === 200 ? "" : "bad");
    });
  });
  $("new-issue").addEventListener("click", function () {
    save().then(function () { return post({op: "new_issue"}); }).then(function (j) {
      if (j && j.location) location.href = j.location;
      else if (j) showProblems(j.problems);
    });
  });
  $("publish").addEventListener("click", function () {
    change({op: "publish", date: $("publish-date").value || null}, null, null).then(function (j) {
      if (!j || j.status !== 200) return;
      var lines = (j.blockers || []).map(function (b) { return "Blocks sending: " + b; });
      lines = lines.concat((j.warnings || []).map(function (w) { return w; }));
      report($("blockers"), lines.length ? lines : ["Published: nothing blocks sending."], j.blockers && j.blockers.length ? "bad" : "");
    });
  });
  $("commit-message").addEventListener("input", function () { $("commit-message").dataset.edited = "1"; });
  $("commit").addEventListener("click", function () {
    save().then(function () { return post({op: "commit", message: $("commit-message").value}); }).then(function (j) {
      if (!j) return;
      report($("commit-report"), j.status === 200 ? ["Committed: " + j.done] : (j.problems || []).map(function (p) { return p.text; }),
             j.status === 200 ? "" : "bad");
      if (j.status === 200) { delete $("commit-message").dataset.edited; refresh(j.state, null, null); }
    });
  });
  // A file dropped beside an item is not opened in place of the editor (an item takes it; elsewhere nothing does).
  ["dragover", "drop"].forEach(function (type) {
    document.addEventListener(type, function (e) {
      if (e.dataTransfer && e.dataTransfer.types.indexOf("Files") >= 0) e.preventDefault();
    });
  });
  window.addEventListener("beforeunload", function (e) { if (Object.keys(dirty).length) { e.preventDefault(); e.returnValue = ""; } });
  draw();
  freshMessage();
})();
