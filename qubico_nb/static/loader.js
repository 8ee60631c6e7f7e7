// The review board's synced module: a small loader, so the saved notebook keeps only this.
// It asks the kernel for the board's code and style (static/review.js, review.css), imports the
// code once per page from a blob: URL (as anywidget itself does), and renders with it.
const TIMEOUT_MS = 15000;

function fetchCode(model) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { model.off("msg:custom", onMessage); reject(new Error("no answer from the kernel")); }, TIMEOUT_MS);
    function onMessage(msg) {
      if (!msg || msg.type !== "code") return;
      clearTimeout(timer);
      model.off("msg:custom", onMessage);
      resolve(msg);
    }
    model.on("msg:custom", onMessage);
    model.send({ type: "code" });
  });
}

async function load(model) {
  const cache = (globalThis.__qnbReview ||= {});
  const msg = await fetchCode(model);
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

export default {
  async render({ model, el }) {
    const wait = document.createElement("div");
    wait.className = "qnb-rv-loading";
    wait.textContent = "Loading the review board…";
    el.append(wait);
    try {
      const board = await load(model);
      wait.remove();
      return board.render({ model, el });
    } catch (error) {
      wait.textContent = `The review board needs its kernel: run the cell again (${error.message}).`;
      return undefined;
    }
  },
};
