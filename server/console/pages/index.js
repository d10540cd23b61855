// The console's pages, in the order the navigation lists them. Each module's default export is
// { id, title, permission, render(main, ctx) } (see app.js). They are loaded one by one, so a page
// that fails to load is reported and the others still work.

export const PAGE_MODULES = [
  { file: 'overview.js', load: () => import('./overview.js') },
  { file: 'campaigns.js', load: () => import('./campaigns.js') },
  { file: 'stores.js', load: () => import('./stores.js') },
  { file: 'beacons.js', load: () => import('./beacons.js') },
  { file: 'live.js', load: () => import('./live.js') },
  { file: 'analytics.js', load: () => import('./analytics.js') },
  { file: 'audit.js', load: () => import('./audit.js') },
  { file: 'privacy.js', load: () => import('./privacy.js') },
  { file: 'users.js', load: () => import('./users.js') },
];
