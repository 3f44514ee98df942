// The chat emulator's web view: shows a chat service's channels as its people see them, live, and
// acts as any of them. Everything shown is built with DOM calls and set as text (textContent): no
// markup from a message ever reaches the page. Data comes from the server's read-only JSON API and
// its event stream; acts go to POST /api/{service}/act, which the emulator carries out as act_as does.
"use strict";

(() => {
  const SAFE_SCHEMES = ["http:", "https:", "mailto:"];
  const QUICK_REACTIONS = [
    ["white_check_mark", "✅"], ["x", "❌"], ["+1", "👍"], ["-1", "👎"], ["eyes", "👀"], ["tada", "🎉"],
  ];
  const JOURNAL_KEPT = 1000;

  const state = {
    services: [], service: null, workspace: null, people: new Map(), channels: new Map(),
    channel: null, viewer: null,
    epoch: null, revision: 0, messages: new Map(), ephemeral: [], ephemeralKey: "",
    entries: new Map(), // top-level ts -> rendered entry element
    seen: new Map(), // channel -> revision seen
    status: null, journal: { epoch: null, next: 0 },
    editing: null, replying: new Set(), collapsed: new Set(), errors: new Map(),
    busy: false, again: false, loaded: false,
  };

  // --- DOM helpers ----------------------------------------------------------------------------------

  const $ = (selector) => document.querySelector(selector);

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key === "href" || key === "src") {
        const url = safeUrl(value);
        if (url) node.setAttribute(key, url);
      } else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function safeUrl(value) {
    if (typeof value !== "string") return null;
    try {
      const url = new URL(value, window.location.href);
      return SAFE_SCHEMES.includes(url.protocol) ? url.href : null;
    } catch (err) {
      return null;
    }
  }

  function cmpTs(a, b) {
    const [ai, af = ""] = a.split("."), [bi, bf = ""] = b.split(".");
    if (ai.length !== bi.length) return ai.length - bi.length;
    if (ai !== bi) return ai < bi ? -1 : 1;
    const fa = af.padEnd(6, "0"), fb = bf.padEnd(6, "0");
    return fa === fb ? 0 : fa < fb ? -1 : 1;
  }

  // --- time, in the viewer's time zone ---------------------------------------------------------------

  function sameDay(a, b) {
    return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
  }

  // Formatters made once: a long channel formats thousands of times.
  const CLOCK = new Intl.DateTimeFormat([], { hour: "numeric", minute: "2-digit" });
  const DAY = new Intl.DateTimeFormat([], { year: "numeric", month: "numeric", day: "numeric" });
  const FULL = new Intl.DateTimeFormat([], { dateStyle: "full", timeStyle: "long" });
  const JOURNAL_CLOCK = new Intl.DateTimeFormat([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });

  function timeNode(seconds, cls) {
    const when = new Date(seconds * 1000);
    const clock = CLOCK.format(when);
    const shown = sameDay(when, new Date()) ? clock : `${DAY.format(when)} ${clock}`;
    return el("time", { class: cls, datetime: when.toISOString(), title: FULL.format(when), text: shown });
  }

  function slackDate(node) {
    const when = new Date(node.epoch * 1000);
    if (Number.isNaN(when.getTime())) return node.fallback;
    const formats = {
      "{date_num}": () => when.toLocaleDateString([], { year: "numeric", month: "2-digit", day: "2-digit" }),
      "{date_slash}": () => when.toLocaleDateString([], { year: "numeric", month: "2-digit", day: "2-digit" }),
      "{date}": () => when.toLocaleDateString([], { year: "numeric", month: "long", day: "numeric" }),
      "{date_short}": () => when.toLocaleDateString([], { year: "numeric", month: "short", day: "numeric" }),
      "{date_long}": () => when.toLocaleDateString([], { weekday: "long", year: "numeric", month: "long", day: "numeric" }),
      "{date_pretty}": () => when.toLocaleDateString([], { year: "numeric", month: "long", day: "numeric" }),
      "{date_short_pretty}": () => when.toLocaleDateString([], { year: "numeric", month: "short", day: "numeric" }),
      "{date_long_pretty}": () => when.toLocaleDateString([], { weekday: "long", year: "numeric", month: "long", day: "numeric" }),
      "{time}": () => when.toLocaleTimeString([], { hour: "numeric", minute: "2-digit" }),
      "{time_secs}": () => when.toLocaleTimeString(),
      "{ago}": () => when.toLocaleString(),
    };
    return node.format.replace(/\{[a-z_]+\}/g, (token) => (formats[token] ? formats[token]() : token));
  }

  // --- text nodes (mrkdwn.py) ------------------------------------------------------------------------

  function inline(nodes, parent) {
    for (const node of nodes || []) parent.appendChild(inlineNode(node));
    return parent;
  }

  function inlineNode(node) {
    if (typeof node === "string") return document.createTextNode(node);
    switch (node.t) {
      case "b": return inline(node.c, el("strong"));
      case "i": return inline(node.c, el("em"));
      case "s": return inline(node.c, el("del"));
      case "u": return inline(node.c, el("u"));
      case "code": return el("code", { class: "inline-code", text: node.v });
      case "pre": return el("pre", { class: "code-block" }, el("code", { text: node.v }));
      case "quote": return inline(node.c, el("blockquote"));
      case "br": return el("br");
      case "p": return inline(node.c, el("p"));
      case "link": {
        const href = safeUrl(node.href);
        const label = inline(node.c, document.createDocumentFragment());
        return href ? el("a", { href, target: "_blank", rel: "noopener noreferrer" }, label) : el("span", {}, label);
      }
      case "mention":
        return el("span", { class: `mention mention-${node.kind}`, "data-id": node.id, text: node.label });
      case "emoji":
        return node.char
          ? el("span", { class: "emoji", role: "img", "aria-label": node.name.replace(/_/g, " "), title: `:${node.name}:`, text: node.char })
          : el("span", { class: "emoji custom", title: "custom emoji", text: `:${node.name}:` });
      case "date": {
        const when = new Date(node.epoch * 1000);
        const shown = el("time", { datetime: Number.isNaN(when.getTime()) ? null : when.toISOString(), title: node.fallback, text: slackDate(node) });
        const href = safeUrl(node.href);
        return href ? el("a", { href, target: "_blank", rel: "noopener noreferrer" }, shown) : shown;
      }
      case "list": {
        const list = el(node.ordered ? "ol" : "ul", { class: `indent-${Math.min(node.indent || 0, 4)}` });
        for (const item of node.items || []) list.appendChild(inline(item, el("li")));
        return list;
      }
      default:
        return document.createTextNode(textOf([node]));
    }
  }

  function textOf(nodes) {
    return (nodes || []).map((n) => {
      if (typeof n === "string") return n;
      if (n.t === "code" || n.t === "pre") return n.v;
      if (n.t === "mention") return n.label;
      if (n.t === "emoji") return n.char || `:${n.name}:`;
      if (n.t === "date") return n.fallback;
      if (n.t === "br") return "\n";
      return textOf(n.c);
    }).join("");
  }

  // --- Block Kit (blocks.py) -------------------------------------------------------------------------

  function block(node, msg) {
    switch (node.t) {
      case "header": return inline(node.c, el("h3", { class: "bk-header" }));
      case "section": {
        const section = el("div", { class: "bk-section" });
        const content = el("div", { class: "bk-section-content" });
        if (node.text && node.text.length) content.appendChild(inline(node.text, el("div", { class: "mrkdwn" })));
        if (node.fields && node.fields.length) {
          const fields = el("div", { class: "bk-fields" });
          for (const field of node.fields) fields.appendChild(inline(field, el("div", { class: "bk-field mrkdwn" })));
          content.appendChild(fields);
        }
        section.appendChild(content);
        if (node.accessory) section.appendChild(el("div", { class: "bk-accessory" }, element(node.accessory, msg, node.block_id)));
        return section;
      }
      case "context": {
        const context = el("div", { class: "bk-context" });
        for (const item of node.c || []) {
          context.appendChild(item.t === "img" ? image(item, "bk-context-image") : inline(item.c, el("span", { class: "mrkdwn" })));
        }
        return context;
      }
      case "divider": return el("hr", { class: "bk-divider" });
      case "image": {
        const figure = el("figure", { class: "bk-image" });
        if (node.title) figure.appendChild(el("figcaption", { text: node.title }));
        figure.appendChild(image(node, "bk-image-img"));
        return figure;
      }
      case "actions": {
        const group = el("div", { class: "bk-actions", role: "group", "aria-label": "Actions" });
        for (const item of node.elements || []) group.appendChild(element(item, msg, node.block_id));
        return group;
      }
      case "rich": {
        const rich = el("div", { class: "bk-rich mrkdwn" });
        for (const part of node.c || []) rich.appendChild(inlineNode(part));
        return rich;
      }
      case "text": return inline(node.c, el("div", { class: "mrkdwn" }));
      case "file": return el("div", { class: "bk-file", text: `📎 ${node.name}` });
      case "card": {
        const card = el("div", { class: "card" });
        if (node.accent && /^#[0-9a-fA-F]{6}$/.test(node.accent)) card.style.setProperty("--accent", node.accent);
        for (const inner of node.c || []) card.appendChild(block(inner, msg));
        return card;
      }
      default: {
        const details = el("details", { class: "bk-unknown" });
        details.appendChild(el("summary", {},
          el("span", { class: "bk-unknown-type", text: `${node.type || node.t} block` }),
          node.summary ? ` ${node.summary}` : ""));
        details.appendChild(el("pre", { text: node.json || "" }));
        return details;
      }
    }
  }

  function image(node, cls) {
    if (!node.src) return el("span", { class: `${cls} missing-image`, role: "img", "aria-label": node.alt || "image", text: `🖼 ${node.alt || "image"}` });
    return el("img", { class: cls, src: node.src, alt: node.alt || "", loading: "lazy", referrerpolicy: "no-referrer" });
  }

  function element(node, msg, blockId) {
    if (node.t === "button") {
      const label = node.label || node.action_id;
      // A link button with no action (Discord's) only opens its link: nothing is sent to the app.
      if (node.url && !node.action_id) {
        const href = safeUrl(node.url);
        return href ? el("a", { class: "bk-button bk-link", href, target: "_blank", rel: "noopener noreferrer", text: `${label} ↗` })
          : el("span", { class: "bk-button bk-link", "aria-disabled": "true", text: label });
      }
      const button = el("button", {
        type: "button",
        class: `bk-button${node.style ? ` bk-${node.style}` : ""}`,
        "data-action-id": node.action_id,
        "data-value": node.value,
        "aria-label": node.a11y && node.a11y !== label ? node.a11y : null,
        disabled: msg.ephemeral || node.disabled ? true : null,
        title: msg.ephemeral ? "Buttons on ephemeral messages are not emulated" : null,
        text: label,
      });
      button.addEventListener("click", () => press(msg, node, blockId, button));
      return button;
    }
    if (node.t === "select" || node.t === "overflow") return select(node, msg, blockId);
    if (node.t === "img") return image(node, "bk-accessory-image");
    return el("span", { class: "bk-element", text: `[${node.type}${node.label ? `: ${node.label}` : ""}]` });
  }

  function select(node, msg, blockId) {
    const overflow = node.t === "overflow";
    const name = overflow ? "More actions" : node.placeholder || "Select an item";
    const usable = state.workspace && state.workspace.can_select && !msg.ephemeral && node.source !== "external";
    const menu = el("select", {
      class: `bk-select${overflow ? " bk-overflow" : ""}`,
      "aria-label": name,
      "data-action-id": node.action_id,
      multiple: node.multi ? true : null,
      disabled: usable ? null : true,
      title: usable ? null : (node.source === "external" ? "Options from the app (external_select) are not emulated"
        : "This emulator does not send menu choices to the app yet"),
    });
    if (!node.multi) menu.appendChild(el("option", { value: "", disabled: true, selected: node.initial && node.initial.length ? null : true, text: overflow ? "⋯" : name }));
    let options = node.options || [];
    if (node.source === "users") options = [...state.people.values()].map((p) => ({ label: p.label, value: p.id }));
    if (node.source === "conversations" || node.source === "channels") {
      options = [...state.channels.values()].map((c) => ({ label: `#${c.name}`, value: c.id }));
    }
    for (const option of options) {
      menu.appendChild(el("option", { value: option.value, selected: (node.initial || []).includes(option.value) ? true : null, text: option.label }));
    }
    menu.addEventListener("change", () => {
      const values = [...menu.selectedOptions].map((o) => o.value).filter((v) => v !== "");
      choose(msg, node, blockId, values, menu);
    });
    return menu;
  }

  // --- messages --------------------------------------------------------------------------------------

  function person(id) {
    return state.people.get(id) || null;
  }

  function avatar(author) {
    const name = author.label || author.name || "?";
    const initials = name.split(/[\s-]+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join("");
    let hue = 0;
    for (const ch of author.name || name) hue = (hue * 31 + ch.charCodeAt(0)) % 360;
    const node = el("div", { class: "avatar", "aria-hidden": "true", text: initials || "?" });
    node.style.setProperty("--hue", String(hue));
    return node;
  }

  function messageNode(msg) {
    const author = msg.author;
    const id = `msg-${msg.ephemeral ? "e" : ""}${msg.ts.replace(".", "-")}`;
    const article = el("article", {
      class: `message${msg.ephemeral ? " ephemeral" : ""}${msg.deleted ? " deleted" : ""}${msg.thread_ts ? " reply" : ""}`,
      "data-ts": msg.ts,
      "aria-labelledby": `${id}-head`,
      id,
    });
    article.appendChild(msg.deleted ? el("div", { class: "avatar deleted", "aria-hidden": "true" }) : avatar(author));
    const main = el("div", { class: "message-main" });
    const head = el("div", { class: "message-head", id: `${id}-head` });
    if (!msg.deleted) {
      head.appendChild(el("span", { class: "author", text: author.label || author.name }));
      if (author.badge) head.appendChild(el("span", { class: "badge", title: author.badge === "APP" ? "An app's bot" : "A bot", text: author.badge }));
      if (author.via) head.appendChild(el("span", { class: "via", text: `via ${author.via}` }));
    }
    head.appendChild(timeNode(msg.time, "message-time"));
    if (msg.edited) head.appendChild(el("span", { class: "edited", text: "(edited)" }));
    if (msg.broadcast) head.appendChild(el("span", { class: "via", text: "also sent to the channel" }));
    if (msg.ephemeral) head.appendChild(el("span", { class: "only-you", text: (state.workspace && state.workspace.ephemeral_note) || "Only visible to you" }));
    if (msg.reply_to) main.appendChild(el("div", { class: "reply-to", text: `↪ ${msg.reply_to.line}` }));
    main.appendChild(head);

    if (state.editing === msg.ts && !msg.ephemeral) main.appendChild(editForm(msg));
    else {
      const body = el("div", { class: "message-body" });
      for (const node of msg.body || []) body.appendChild(block(node, msg));
      main.appendChild(body);
    }
    if (msg.files && msg.files.length) {
      const files = el("ul", { class: "files", "aria-label": "Files" });
      for (const file of msg.files) files.appendChild(el("li", { text: `📎 ${file.title || file.name}` }));
      main.appendChild(files);
    }
    if (msg.metadata) {
      const details = el("details", { class: "metadata" });
      details.appendChild(el("summary", { text: `metadata: ${msg.metadata.event_type}` }));
      details.appendChild(el("pre", { text: msg.metadata.json }));
      main.appendChild(details);
    }
    if (!msg.ephemeral && !msg.deleted) main.appendChild(reactions(msg));
    const error = state.errors.get(msg.ts);
    main.appendChild(el("p", { class: "act-error", role: "alert", text: error || "" }));
    if (!msg.ephemeral && !msg.deleted) main.appendChild(tools(msg));
    article.appendChild(main);
    return article;
  }

  function reactions(msg) {
    const bar = el("div", { class: "reactions" });
    for (const reaction of msg.reactions || []) {
      const mine = reaction.users.includes(state.viewer);
      const names = reaction.users.map((u) => (person(u) ? person(u).name : u)).join(", ");
      const label = `${reaction.name.replace(/_/g, " ")}: ${reaction.count}${names ? ` (${names})` : ""}`;
      bar.appendChild(el("button", {
        type: "button", class: "reaction", "aria-pressed": mine ? "true" : "false", "aria-label": label, title: label,
        onclick: () => act(mine ? "unreact" : "react", { ts: msg.ts, name: reaction.name }, msg.ts),
      }, el("span", { class: "emoji", "aria-hidden": "true", text: reaction.char || `:${reaction.name}:` }),
      el("span", { class: "count", text: String(reaction.count) })));
    }
    return bar;
  }

  function tools(msg) {
    const bar = el("div", { class: "message-tools" });
    const viewer = person(state.viewer);
    if (!msg.thread_ts) {
      bar.appendChild(el("button", { type: "button", class: "tool", text: "Reply", onclick: () => openReply(msg.ts) }));
    }
    const picker = el("div", { class: "reaction-picker", hidden: true });
    const reactButton = el("button", {
      type: "button", class: "tool", "aria-expanded": "false", text: "React",
      onclick: () => {
        const open = picker.hidden;
        picker.hidden = !open;
        reactButton.setAttribute("aria-expanded", String(open));
        if (open) picker.querySelector("button").focus();
      },
    });
    for (const [name, char] of QUICK_REACTIONS) {
      picker.appendChild(el("button", {
        type: "button", class: "quick-reaction", "aria-label": `React with ${name.replace(/_/g, " ")}`, title: `:${name}:`,
        text: char, onclick: () => act("react", { ts: msg.ts, name }, msg.ts),
      }));
    }
    const other = el("input", { type: "text", class: "other-reaction", "aria-label": "Emoji name", placeholder: "emoji name", size: 10 });
    picker.appendChild(other);
    picker.appendChild(el("button", {
      type: "button", class: "tool", text: "Add",
      onclick: () => { if (other.value.trim()) act("react", { ts: msg.ts, name: other.value.trim() }, msg.ts); },
    }));
    picker.addEventListener("keydown", (event) => {
      if (event.key === "Escape") { picker.hidden = true; reactButton.setAttribute("aria-expanded", "false"); reactButton.focus(); }
    });
    bar.appendChild(reactButton);
    const mine = msg.author && msg.author.id === state.viewer;
    if (mine) {
      bar.appendChild(el("button", { type: "button", class: "tool", text: "Edit", onclick: () => { state.editing = msg.ts; rerender(msg.ts, `edit-${msg.ts}`); } }));
    }
    if (mine || (viewer && viewer.admin)) {
      const remove = el("button", { type: "button", class: "tool danger", text: "Delete" });
      remove.addEventListener("click", () => {
        if (remove.dataset.confirm) { act("delete", { ts: msg.ts }, msg.ts); return; }
        remove.dataset.confirm = "1";
        remove.textContent = "Confirm delete";
        setTimeout(() => { delete remove.dataset.confirm; remove.textContent = "Delete"; }, 4000);
      });
      bar.appendChild(remove);
    }
    bar.appendChild(picker);
    return bar;
  }

  function editForm(msg) {
    const form = el("form", { class: "edit-form", novalidate: true });
    const area = el("textarea", { id: `edit-${msg.ts}`, rows: 3, "aria-label": "Edit message" });
    area.value = msg.text || "";
    form.appendChild(area);
    form.appendChild(el("button", { type: "submit", class: "send", text: "Save" }));
    form.appendChild(el("button", { type: "button", class: "tool", text: "Cancel", onclick: () => { state.editing = null; rerender(msg.ts); } }));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const ok = await act("edit", { ts: msg.ts, text: area.value }, msg.ts);
      if (ok) { state.editing = null; rerender(msg.ts); }
    });
    submitOnEnter(area, form);
    return form;
  }

  function submitOnEnter(area, form) {
    area.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
  }

  // Replies (and the viewer's ephemerals in threads) by the ts of their thread's parent, in order.
  function threads() {
    const byParent = new Map();
    for (const m of [...state.messages.values(), ...state.ephemeral]) {
      if (!m.thread_ts) continue;
      if (!byParent.has(m.thread_ts)) byParent.set(m.thread_ts, []);
      byParent.get(m.thread_ts).push(m);
    }
    for (const list of byParent.values()) list.sort((a, b) => cmpTs(a.ts, b.ts));
    return byParent;
  }

  function entryNode(top, byParent) {
    const entry = el("div", { class: "entry", "data-ts": top.ts });
    entry.appendChild(messageNode(top));
    const all = byParent.get(top.ts) || [];
    const replies = all.filter((m) => !m.ephemeral);
    if (all.length || state.replying.has(top.ts) || top.thread_name) {
      const collapsed = state.collapsed.has(top.ts);
      const count = `${replies.length} ${replies.length === 1 ? "reply" : "replies"}`;
      const named = top.thread_name ? `🧵 ${top.thread_name}: ${count}` : count;
      const thread = el("section", { class: "thread", "aria-label": top.thread_name ? `Thread ${top.thread_name}: ${count}` : `Thread: ${count}` });
      if (all.length || top.thread_name) {
        const toggle = el("button", {
          type: "button", class: "thread-toggle", "aria-expanded": collapsed ? "false" : "true",
          text: collapsed ? `Show ${named}` : named,
          onclick: () => { if (collapsed) state.collapsed.delete(top.ts); else state.collapsed.add(top.ts); rerender(top.ts); },
        });
        thread.appendChild(toggle);
      }
      if (!collapsed) for (const reply of all) thread.appendChild(messageNode(reply));
      if (state.replying.has(top.ts) && !collapsed) thread.appendChild(replyForm(top));
      entry.appendChild(thread);
    }
    return entry;
  }

  function replyForm(top) {
    const form = el("form", { class: "reply-form", novalidate: true });
    const area = el("textarea", { id: `reply-${top.ts}`, rows: 2, "aria-label": "Reply in thread", placeholder: "Reply…" });
    form.appendChild(area);
    form.appendChild(el("button", { type: "submit", class: "send", text: "Reply" }));
    form.appendChild(el("button", { type: "button", class: "tool", text: "Close", onclick: () => { state.replying.delete(top.ts); rerender(top.ts); } }));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const text = area.value;
      if (await act("reply", { thread_ts: top.ts, text }, top.ts)) area.value = "";
    });
    submitOnEnter(area, form);
    return form;
  }

  function openReply(ts) {
    state.replying.add(ts);
    state.collapsed.delete(ts);
    rerender(ts, `reply-${ts}`);
  }

  function topOf(msg) {
    return msg.thread_ts && !msg.broadcast ? msg.thread_ts : msg.ts;
  }

  function tops() {
    const list = [...state.messages.values()].filter((m) => !m.thread_ts || m.broadcast);
    for (const e of state.ephemeral) if (!e.thread_ts) list.push(e);
    return list.sort((a, b) => cmpTs(a.ts, b.ts));
  }

  function nearBottom(box) {
    return box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  }

  function renderAll() {
    const box = $("#messages");
    state.entries.clear();
    const fragment = document.createDocumentFragment();
    const byParent = threads();
    for (const top of tops()) {
      const entry = top.ephemeral ? el("div", { class: "entry", "data-ts": top.ts }, messageNode(top)) : entryNode(top, byParent);
      state.entries.set(top.ts, entry);
      fragment.appendChild(entry);
    }
    if (!fragment.childNodes.length) fragment.appendChild(el("p", { class: "empty", text: "No messages yet." }));
    box.replaceChildren(fragment);
    box.scrollTop = box.scrollHeight;
  }

  // Re-render the entries (a message and its thread) of the given top-level timestamps, in place.
  function rerender(ts, focusId) {
    renderEntries(new Set([ts]), focusId);
  }

  function renderEntries(tsSet, focusId) {
    const box = $("#messages");
    const stick = nearBottom(box);
    const active = document.activeElement;
    const keep = active && active.id && box.contains(active) ? { id: active.id, start: active.selectionStart, end: active.selectionEnd, value: active.value } : null;
    const empty = box.querySelector(".empty");
    if (empty) empty.remove();
    const order = tops();
    const byParent = threads();
    for (const ts of tsSet) {
      const top = order.find((m) => m.ts === ts);
      const old = state.entries.get(ts);
      if (!top) {
        if (old) old.remove();
        state.entries.delete(ts);
        continue;
      }
      const entry = top.ephemeral ? el("div", { class: "entry", "data-ts": top.ts }, messageNode(top)) : entryNode(top, byParent);
      if (old) old.replaceWith(entry);
      else {
        const next = order.find((m) => cmpTs(m.ts, ts) > 0 && state.entries.has(m.ts));
        box.insertBefore(entry, next ? state.entries.get(next.ts) : null);
      }
      state.entries.set(ts, entry);
    }
    const target = focusId ? document.getElementById(focusId) : keep ? document.getElementById(keep.id) : null;
    if (target && target !== document.activeElement) {
      if (keep && target.id === keep.id && typeof keep.value === "string" && "value" in target && !focusId) {
        target.value = keep.value;
        if (keep.start !== null && keep.start !== undefined) target.setSelectionRange(keep.start, keep.end);
      }
      target.focus();
    }
    if (stick) box.scrollTop = box.scrollHeight;
  }

  // --- acting ----------------------------------------------------------------------------------------

  async function post(path, body) {
    const response = await fetch(path, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    try {
      return await response.json();
    } catch (err) {
      return { ok: false, error: `http_${response.status}`, message: `The page's server answered HTTP ${response.status}.` };
    }
  }

  // Carry out an act as the viewer; a failure is shown beside the message (or the composer).
  async function act(action, fields, where) {
    const result = await post(`/api/${state.service}/act`, { action, as: state.viewer, channel: state.channel, ...fields });
    if (where) {
      if (result.ok) state.errors.delete(where); else state.errors.set(where, `⚠ ${result.message || result.error}`);
      const msg = state.messages.get(where);
      if (msg) rerender(topOf(msg));
    }
    refresh();
    return result.ok;
  }

  async function press(msg, node, blockId, button) {
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    const result = await post(`/api/${state.service}/act`, {
      action: "click", as: state.viewer, channel: state.channel, ts: msg.ts,
      action_id: node.action_id, value: node.value, block_id: blockId,
    });
    if (result.ok) state.errors.delete(msg.ts); else state.errors.set(msg.ts, `⚠ ${result.message || result.error}`);
    rerender(topOf(msg));
    refresh();
  }

  async function choose(msg, node, blockId, values, menu) {
    menu.disabled = true;
    const result = await post(`/api/${state.service}/act`, {
      action: "select", as: state.viewer, channel: state.channel, ts: msg.ts,
      action_id: node.action_id, values, block_id: blockId,
    });
    if (result.ok) state.errors.delete(msg.ts); else state.errors.set(msg.ts, `⚠ ${result.message || result.error}`);
    rerender(topOf(msg));
    refresh();
  }

  // --- loading ---------------------------------------------------------------------------------------

  async function getJson(path) {
    const response = await fetch(path, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
    return response.json();
  }

  function saveLocation() {
    const params = new URLSearchParams({ service: state.service || "", channel: state.channel || "", as: state.viewer || "" });
    history.replaceState(null, "", `#${params}`);
  }

  function fromLocation() {
    return new URLSearchParams(window.location.hash.slice(1));
  }

  async function loadServices() {
    const body = await getJson("/api/services");
    state.services = body.services;
    const picker = $("#service");
    picker.replaceChildren(...state.services.map((s) => el("option", { value: s.id, text: s.name })));
    picker.disabled = state.services.length < 2;
    const wanted = fromLocation().get("service");
    const service = state.services.find((s) => s.id === wanted) || state.services[0];
    if (service) await loadService(service.id);
  }

  async function loadService(id) {
    state.service = id;
    $("#service").value = id;
    state.workspace = null;
    state.epoch = null;
    state.journal = { epoch: null, next: 0 };
    $("#journal-list").replaceChildren();
    state.seen.clear();
    await loadWorkspace();
    await loadChannel(state.channel);
    await loadJournal();
  }

  async function loadWorkspace() {
    const ws = await getJson(`/api/${state.service}/workspace`);
    state.workspace = ws;
    state.people = new Map(ws.people.map((p) => [p.id, p]));
    state.channels = new Map(ws.channels.map((c) => [c.id, c]));
    $("#workspace-name").textContent = ws.name;
    $("#journal-filter option[value=socket]").textContent = ws.transport || "Socket Mode";
    document.title = `${ws.name} · chat emulator`;
    const params = fromLocation();
    const viewers = ws.people.filter((p) => !p.deleted);
    const wantedViewer = state.viewer || params.get("as");
    const viewer = viewers.find((p) => p.id === wantedViewer || p.name === wantedViewer)
      || viewers.find((p) => p.kind === "person") || viewers[0];
    state.viewer = viewer ? viewer.id : null;
    const picker = $("#viewer");
    picker.replaceChildren(...viewers.map((p) => el("option", {
      value: p.id,
      text: `${p.name} — ${p.label}${p.badge ? ` (${p.badge})` : ""}${p.guest ? " (guest)" : ""}${p.external ? " (external)" : ""}`,
    })));
    picker.value = state.viewer;
    const wantedChannel = state.channel || params.get("channel");
    const channel = ws.channels.find((c) => c.id === wantedChannel || c.name === wantedChannel);
    state.channel = channel ? channel.id : ws.default_channel;
    renderChannels();
  }

  function renderChannels() {
    const list = $("#channel-list");
    const status = state.status && state.status[state.service];
    const revisions = (status && status.channels) || {};
    list.replaceChildren(...[...state.channels.values()].map((c) => {
      const current = c.id === state.channel;
      if (!state.seen.has(c.id) && status) state.seen.set(c.id, revisions[c.id] || 0); // what was there on arrival
      const unread = !current && (revisions[c.id] || 0) > (state.seen.get(c.id) || 0);
      const button = el("button", {
        type: "button", class: `channel${current ? " current" : ""}${c.archived ? " archived" : ""}`,
        "aria-current": current ? "page" : null, "data-channel": c.id,
        onclick: () => { if (!current) loadChannel(c.id); },
      },
      el("span", { class: "channel-sigil", "aria-hidden": "true", text: c.private ? "🔒" : "#" }),
      el("span", { class: "channel-label", text: c.name }),
      c.private ? el("span", { class: "visually-hidden", text: " (private)" }) : null,
      c.archived ? el("span", { class: "channel-flag", text: " archived" }) : null,
      unread ? el("span", { class: "unread", title: "New messages", "aria-label": "new messages", text: "●" }) : null);
      return el("li", {}, button);
    }));
  }

  function renderChannelHead() {
    const channel = state.channels.get(state.channel);
    const viewer = person(state.viewer);
    $("#channel-name").textContent = channel ? `${channel.private ? "🔒 " : "#"}${channel.name}` : "";
    const notes = [];
    if (channel && channel.topic) notes.push(channel.topic);
    if (channel && channel.archived) notes.push("Archived: posting and reacting answer is_archived.");
    if (channel && viewer && !channel.members.includes(viewer.id)) notes.push(`${viewer.name} is not a member of this channel.`);
    $("#channel-topic").textContent = notes.join(" · ");
    $("#composer-text").placeholder = channel && viewer ? `Message ${channel.private ? "" : "#"}${channel.name} as ${viewer.name}` : "Message";
  }

  async function loadChannel(id) {
    state.channel = id;
    state.messages = new Map();
    state.ephemeral = [];
    state.epoch = null;
    state.editing = null;
    state.replying.clear();
    state.errors.clear();
    saveLocation();
    renderChannels();
    renderChannelHead();
    $("#messages").replaceChildren(el("p", { class: "empty", text: "Loading…" }));
    await refreshChannel();
  }

  async function refreshChannel() {
    const service = state.service, channel = state.channel, viewer = state.viewer;
    if (!service || !channel) return;
    const query = new URLSearchParams({ viewer: viewer || "" });
    if (state.epoch !== null) { query.set("since", String(state.revision)); query.set("epoch", String(state.epoch)); }
    performance.mark("channel-fetch");
    const body = await getJson(`/api/${service}/channels/${encodeURIComponent(channel)}?${query}`);
    if (service !== state.service || channel !== state.channel || viewer !== state.viewer) return; // moved on meanwhile
    performance.mark("channel-fetched");
    const ephemeralKey = JSON.stringify(body.ephemeral); // an ephemeral may be edited in place (Discord's)
    if (body.full) {
      state.messages = new Map(body.messages.map((m) => [m.ts, m]));
      state.ephemeral = body.ephemeral;
      state.ephemeralKey = ephemeralKey;
      state.epoch = body.epoch;
      state.revision = body.revision;
      renderAll();
      performance.mark("channel-rendered");
      performance.measure("channel-render", "channel-fetched", "channel-rendered");
      performance.measure("channel-load", "channel-fetch", "channel-rendered");
      document.body.dataset.rendered = String(state.messages.size);
    } else {
      const touched = new Set();
      for (const ts of body.removed) {
        const old = state.messages.get(ts);
        if (old) { touched.add(topOf(old)); state.messages.delete(ts); }
      }
      for (const msg of body.messages) {
        const old = state.messages.get(msg.ts);
        if (old) touched.add(topOf(old));
        state.messages.set(msg.ts, msg);
        touched.add(topOf(msg));
      }
      if (ephemeralKey !== state.ephemeralKey) {
        for (const m of [...state.ephemeral, ...body.ephemeral]) touched.add(m.thread_ts || m.ts);
        state.ephemeral = body.ephemeral;
        state.ephemeralKey = ephemeralKey;
      }
      state.revision = body.revision;
      if (touched.size) renderEntries(touched);
    }
    state.seen.set(channel, body.revision);
    document.body.dataset.revision = String(body.revision);
  }

  async function loadJournal() {
    const service = state.service;
    const query = new URLSearchParams({ since: String(state.journal.next) });
    if (state.journal.epoch !== null) query.set("epoch", String(state.journal.epoch));
    const body = await getJson(`/api/${service}/journal?${query}`);
    if (service !== state.service) return;
    const list = $("#journal-list");
    if (body.epoch !== state.journal.epoch) list.replaceChildren();
    const stick = nearBottom($("#journal"));
    for (const entry of body.entries) list.appendChild(journalEntry(entry));
    while (list.childElementCount > JOURNAL_KEPT) list.firstElementChild.remove();
    state.journal = { epoch: body.epoch, next: body.next };
    if (stick) $("#journal").scrollTop = $("#journal").scrollHeight;
  }

  function journalEntry(entry) {
    const when = new Date(entry.time * 1000);
    const clock = `${JOURNAL_CLOCK.format(when)}.${String(when.getMilliseconds()).padStart(3, "0")}`;
    const outcome = entry.error ? entry.error : entry.transport === "WS" ? "" : String(entry.status);
    return el("li", { class: `journal-entry kind-${entry.kind}`, "data-method": entry.method },
      el("time", { datetime: when.toISOString(), text: clock }),
      el("span", { class: "journal-method", text: entry.method }),
      outcome ? el("span", { class: "journal-outcome", text: entry.status === 429 ? `429 ${entry.error || ""}` : outcome }) : null,
      entry.who ? el("span", { class: "journal-who", text: entry.who }) : null,
      el("span", { class: "journal-summary", text: entry.summary }));
  }

  // One refresh at a time; a change during one asks for another after it.
  async function refresh() {
    if (state.busy) { state.again = true; return; }
    state.busy = true;
    try {
      do {
        state.again = false;
        const status = state.status && state.status[state.service];
        if (status && state.epoch !== null && status.epoch !== state.epoch) {
          state.epoch = null;
          state.journal = { epoch: null, next: 0 };
          await loadWorkspace();
          renderChannelHead();
        } else if (status && state.workspace && archivedChanged(status)) {
          await loadWorkspace();
          renderChannelHead();
        }
        await refreshChannel();
        if (!status || status.journal !== state.journal.next || status.epoch !== state.journal.epoch) await loadJournal();
        renderChannels();
        showSockets();
      } while (state.again);
      showError(null);
    } catch (err) {
      showError(`Could not load: ${err.message}`);
    } finally {
      state.busy = false;
    }
  }

  function archivedChanged(status) {
    const now = [...state.channels.values()].filter((c) => c.archived).map((c) => c.id).sort();
    return JSON.stringify(now) !== JSON.stringify(status.archived || []);
  }

  function showSockets() {
    const status = state.status && state.status[state.service];
    const node = $("#sockets");
    if (!status || status.sockets === undefined) { node.textContent = ""; return; }
    const count = status.sockets;
    node.className = `sockets${count ? " up" : ""}`;
    const transport = (state.workspace && state.workspace.transport) || "Socket Mode";
    node.textContent = count ? `${transport}: ${count} connection${count === 1 ? "" : "s"}` : `${transport}: no connection`;
  }

  function showError(text) {
    const banner = $("#connection");
    banner.hidden = !text;
    banner.textContent = text || "";
  }

  function listen() {
    const events = new EventSource("/api/events");
    events.addEventListener("status", (event) => {
      state.status = JSON.parse(event.data).services;
      showError(null);
      if (state.loaded) refresh();
    });
    events.addEventListener("error", () => showError("Connection to the emulator lost: reconnecting…"));
  }

  // --- wiring ----------------------------------------------------------------------------------------

  function wire() {
    $("#service").addEventListener("change", (event) => {
      state.channel = null; // the other service's first channel, not this one's
      history.replaceState(null, "", `#${new URLSearchParams({ service: event.target.value, as: state.viewer || "" })}`);
      loadService(event.target.value).catch((err) => showError(err.message));
    });
    $("#viewer").addEventListener("change", (event) => {
      state.viewer = event.target.value;
      state.epoch = null;
      state.editing = null;
      saveLocation();
      renderChannelHead();
      refreshChannel().catch((err) => showError(err.message));
    });
    const form = $("#composer");
    const area = $("#composer-text");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const result = await post(`/api/${state.service}/act`, { action: "post", as: state.viewer, channel: state.channel, text: area.value });
      $("#composer-error").textContent = result.ok ? "" : `⚠ ${result.message || result.error}`;
      if (result.ok) area.value = "";
      refresh();
    });
    submitOnEnter(area, form);
    $("#journal-filter").addEventListener("change", (event) => { $("#journal-list").dataset.filter = event.target.value; });
    $("#journal-toggle").addEventListener("click", () => {
      const panel = $("#journal");
      panel.hidden = !panel.hidden;
      $("#journal-toggle").setAttribute("aria-expanded", String(!panel.hidden));
    });
  }

  async function start() {
    wire();
    listen();
    try {
      await loadServices();
    } catch (err) {
      showError(`Could not load: ${err.message}`);
    }
    state.loaded = true;
    document.body.dataset.ready = "true";
    refresh();
  }

  document.addEventListener("DOMContentLoaded", start);
})();
