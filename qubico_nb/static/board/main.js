// The lifecycle, as anywidget calls it: `initialize` once per model (the session its views
// share: files, requests, verdicts in flight), `render` once per view. Each returns what ends it.
// `options` go to the session (see BoardSession); anywidget passes none.

export default (options = {}) => {
  let session = null;
  return {
    initialize({ model }) {
      session = new BoardSession(model, options);
      return () => { session.dispose(); session = null; };
    },
    render({ model, el }) {
      const own = session ? null : new BoardSession(model, options); // a host that never initialized
      const view = new BoardView({ model, el, session: session || own });
      return () => { view.dispose(); if (own) own.dispose(); };
    },
  };
};
