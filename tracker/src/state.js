// The one mutable state of a tracker instance, shared by the modules (never exported to the page).
export const S = {
  base: '',        // server origin (+ path prefix) taken from the script's own src
  v: '',           // the script's ?v= query, reused for lazily loaded chunks
  site: '',        // location.hostname
  cfg: null,       // the site's public tracking settings (GET /api/collect/config)
  phase: 0,        // 0 waiting for config, 1 tracking, 2 stopped for good on this page
  allowed: false,  // consent given (or not needed): only then is anything sent or stored
  sid: '',         // tab-scoped session token
  fresh: false,    // the session token was created on this page
  page: null,      // the current page view
  strip: (url) => url,
  onAllowed: [],   // callbacks run once sending is allowed (the rr bundle loads its recorder here)
};
