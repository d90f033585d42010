// Roost's service worker: keeps the dashboard's app shell (the page, its hashed script, wasm and stylesheet, the
// manifest and icons) so the dashboard opens without the broker, where the page itself says it is offline.
//
// - The page (`/`) comes from the cache when it is there, and from the network at the same time: when the network's
//   page differs (a new `roost` serving a new build), the cache takes it and the files it names, drops the ones it
//   no longer names, and the open page is told (`roost-new-build`), so it offers to reload; the next load shows
//   the new build in any case.
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

// A navigation to the page: the cached page at once when there is one (a round trip less before the first card),
// while the network's page is fetched beside it; when that one names another build, the cache takes the new build
// and the page is told, so it can offer to reload (the next load shows the new build anyway). Without a cached
// page, the network's. Other paths: the network only.
async function page(event) {
  const url = new URL(event.request.url);
  if (url.pathname !== '/') return fetch(event.request);
  const cached = await caches.match('/');
  // Read now: once `cached` is handed to the page its body is used and can no longer be cloned.
  const cachedText = cached ? cached.clone().text() : Promise.resolve(null);
  const fresh = fetch(event.request).then(async (response) => {
    if (response.ok && (await response.clone().text()) !== (await cachedText)) {
      await refreshShell(response.clone());
      if (cached) await tell(event.resultingClientId || event.clientId, 'roost-new-build');
    }
    return response;
  });
  if (!cached) return fresh;
  event.waitUntil(fresh.catch(() => {})); // offline: the cached page is all there is
  return cached;
}

// Posts `message` to the page with id `id`, if it is still open.
async function tell(id, message) {
  const client = id && (await self.clients.get(id));
  if (client) client.postMessage(message);
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
    if (/-[0-9a-f]{8,16}(_bg)?\.[a-z]+$/.test(name) && (await cache.match(name))) continue;
    const file = await fetch(name, { cache: 'no-cache' });
    if (file.ok) await cache.put(name, file);
  }
  await cache.put('/', fresh);
  for (const request of await cache.keys()) {
    if (!names.has(new URL(request.url).pathname)) await cache.delete(request);
  }
}
