// The review board's synced module: a small loader, so the saved notebook keeps only this.
// It asks the kernel for the board's module and style (review_board/assets.py), imports the
// module once per page from a blob: URL (as anywidget itself does), and hands it anywidget's
// lifecycle: `initialize` must not wait (anywidget holds the model's messages until it
// returns), so the module's own `initialize` runs when the code arrives, before any `render`.
const SLOW_MS = 3000;

function askForCode(model) {
  let stop = () => {};
  const promise = new Promise((resolve) => {
    const onMessage = (msg) => { if (msg && msg.type === "code") { stop(); resolve(msg); } };
    model.on("msg:custom", onMessage);
    stop = () => model.off("msg:custom", onMessage);
    model.send({ type: "code" });
  });
  return { promise, stop: () => stop() };
}

async function importBoard(msg) {
  globalThis.__qnbReview = globalThis.__qnbReview || {};
  const cache = globalThis.__qnbReview;
  if (!cache[msg.version]) {
    const url = URL.createObjectURL(new Blob([msg.js], { type: "text/javascript" }));
    cache[msg.version] = import(/* webpackIgnore: true */ url);
  }
  if (!document.getElementById(`qnb-review-css-${msg.version}`)) {
    const style = document.createElement("style");
    style.id = `qnb-review-css-${msg.version}`;
    style.textContent = msg.css;
    document.head.append(style);
  }
  return (await cache[msg.version]).default;
}

export default () => {
  let ready = null, ask = null, endInitialize = null, ended = false;
  const load = (model) => {
    if (!ready) {
      ask = askForCode(model);
      ready = ask.promise.then(importBoard).then(async (factory) => {
        const widget = typeof factory === "function" ? factory() : factory;
        if (!ended && widget.initialize) endInitialize = (await widget.initialize({ model })) || null;
        return widget;
      });
    }
    return ready;
  };
  return {
    initialize({ model }) {
      load(model); // not awaited, see above
      return () => { ended = true; if (ask) ask.stop(); if (endInitialize) endInitialize(); };
    },
    render({ model, el }) {
      const wait = document.createElement("div");
      wait.className = "qnb-rv-loading";
      wait.textContent = "Loading the review board…";
      el.append(wait);
      let end = null, gone = false;
      const slow = setTimeout(() => {
        wait.textContent = "Waiting for the kernel to send the review board (is it busy? If it restarted, run the cell again.)";
      }, SLOW_MS);
      load(model).then((widget) => {
        if (gone) return;
        clearTimeout(slow);
        wait.remove();
        end = widget.render({ model, el });
      }, (error) => {
        clearTimeout(slow);
        wait.textContent = `The review board could not start: ${error.message}`;
      });
      return () => { gone = true; clearTimeout(slow); wait.remove(); if (typeof end === "function") end(); };
    },
  };
};
