// Roost's service worker: keeps the dashboard's app shell (the page, its hashed script, wasm and stylesheet, the
// manifest and icons) so the dashboard opens without the broker, where the page itself says it is offline.
//
// - The page (`/`) is fetched from the network first, so a new `roost` serving a new build is seen on the next
//   load; each good answer refreshes the cache with the files that page names and drops the ones it no longer
//   names. Only when the network fails does the cached page answer.
// - Other shell files are served from the cache first: Trunk names them by content hash, so a name never changes
//   content.
// - Nothing under /api/ (the login and who the browser is: the page asks /api/session on every load, so the cache
//   never lets anyone past the login), /mqtt, /metrics or /healthz is ever cached or answered from the cache.

const CACHE = 'roost-shell';
const NEVER_CACHED = /^\/(api\/|mqtt|metrics|healthz)/;
const ALWAYS = ['/', '/manifest.webmanifest', '/icon.svg', '/icon-192.png', '/icon-512.png'];

self.addEventListener('install', (event) => {
  event.waitUntil(refreshShell(null).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(self.clients.claim());
});

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== self.location.origin || NEVER_CACHED.test(url.pathname)) {
    return; // the network, as if there were no service worker
  }
  if (event.request.mode === 'navigate') {
    event.respondWith(page(event));
  } else {
    event.respondWith(caches.match(url.pathname).then((hit) => hit || fetch(event.request)));
  }
});

// A navigation: the network's answer, and a refreshed shell from it; the cached page when the network fails.
async function page(event) {
  try {
    const response = await fetch(event.request);
    if (response.ok && new URL(event.request.url).pathname === '/') {
      event.waitUntil(refreshShell(response.clone()).catch(() => {}));
    }
    return response;
  } catch (offline) {
    const cached = await caches.match('/');
    if (cached) return cached;
    throw offline;
  }
}

// Caches the page (`response`, or fetched) and every same-origin file it names, then drops whatever it no longer
// names: the previous build's files.
async function refreshShell(response) {
  const fresh = response || (await fetch('/', { cache: 'no-cache' }));
  if (!fresh.ok) return;
  const html = await fresh.clone().text();
  const names = new Set(ALWAYS);
  for (const match of html.matchAll(/(?:href=|src=|module_or_path: |from )["'](\/[^"'?#]+)["']/g)) {
    if (!NEVER_CACHED.test(match[1])) names.add(match[1]);
  }
  const cache = await caches.open(CACHE);
  for (const name of names) {
    if (name === '/') continue;
    // Hashed names never change content: fetched once. The others are small and revalidated.
    if (/-[0-9a-f]{16}(_bg)?\.[a-z]+$/.test(name) && (await cache.match(name))) continue;
    const file = await fetch(name, { cache: 'no-cache' });
    if (file.ok) await cache.put(name, file);
  }
  await cache.put('/', fresh);
  for (const request of await cache.keys()) {
    if (!names.has(new URL(request.url).pathname)) await cache.delete(request);
  }
}
