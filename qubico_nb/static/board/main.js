// The lifecycle, as anywidget calls it: `initialize` once per model (the session its views
// share: files, requests, verdicts in flight), `render` once per view. Each returns what ends it.

export default () => {
  let session = null;
  return {
    initialize({ model }) {
      session = new BoardSession(model);
      return () => { session.dispose(); session = null; };
    },
    render({ model, el }) {
      const own = session ? null : new BoardSession(model); // a host that never initialized
      const view = new BoardView({ model, el, session: session || own });
      return () => { view.dispose(); if (own) own.dispose(); };
    },
  };
};
