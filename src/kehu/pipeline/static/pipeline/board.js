// The kanban: drag a deal card to another column (SortableJS); the move is posted to the
// server, which answers with both columns' new count and amount, or with its refusal, in
// which case the card goes back. Dropping on the lost column asks for the reason first.
(function () {
  "use strict";
  function csrf() {
    const body = document.body.getAttribute("hx-headers");
    try { return JSON.parse(body)["X-CSRFToken"]; } catch (e) { return ""; }
  }
  function setup() {
    const board = document.querySelector("[data-board]");
    if (!board || typeof Sortable === "undefined" || board.dataset.canMove !== "1") return;
    const errorBox = document.querySelector("[data-board-error]");
    const moveUrl = board.dataset.moveUrl;  // ends in /0/move/
    board.querySelectorAll("[data-cards]").forEach((list) => {
      Sortable.create(list, {
        group: "deals", animation: 120, draggable: ".deal-card", filter: "button",
        forceFallback: true, fallbackTolerance: 4,
        preventOnFilter: false,
        onEnd(event) {
          if (event.from === event.to) return;
          const card = event.item;
          const target = event.to.dataset.stage;
          const column = event.to.closest("[data-kind]");
          let reason = "";
          if (column && column.dataset.kind === "lost") {
            reason = window.prompt(board.dataset.lostPrompt) || "";
            if (!reason.trim()) { putBack(event); return; }
          }
          const body = new URLSearchParams({ stage: target, lost_reason: reason });
          const url = moveUrl.replace("/0/", "/" + card.dataset.deal + "/") +
            (board.dataset.query ? "?" + board.dataset.query : "");
          card.classList.add("moving");
          errorBox.hidden = true;
          fetch(url, {
            method: "POST", body: body, credentials: "same-origin",
            headers: { "X-CSRFToken": csrf(), "Accept": "application/json" },
          }).then((response) => response.json().then((data) => ({ response, data })))
            .then(({ response, data }) => {
              card.classList.remove("moving");
              if (!response.ok || !data.ok) { throw new Error(data.error || response.statusText); }
              Object.entries(data.columns).forEach(([stage, info]) => {
                const head = board.querySelector(`.board-column[data-stage="${stage}"] [data-totals]`);
                if (head) head.innerHTML = info.header;
              });
            })
            .catch((error) => {
              card.classList.remove("moving");
              putBack(event);
              errorBox.textContent = error.message;
              errorBox.hidden = false;
            });
        },
      });
    });
  }
  function putBack(event) {
    const reference = event.from.children[event.oldIndex] || null;
    event.from.insertBefore(event.item, reference);
  }
  document.addEventListener("DOMContentLoaded", setup);
})();
