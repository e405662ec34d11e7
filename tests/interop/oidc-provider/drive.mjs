// Headless browser stand-in that drives ssokit's demo app through real OpenID
// Connect logins at oidc-provider (op.mjs), and asserts what the user would see.
//
//   DEMO_URL  (default http://127.0.0.1:3000)  the demo app
//   OP_URL    (default http://127.0.0.1:4000)  the OpenID Provider (its issuer)
//
// Prints one line per check and, last, "N passed, M failed". Exit code 1 on any failure.
//
// Browser behaviour that matters here and is emulated:
// - Cookies are per host, not per port: the demo and the OP share 127.0.0.1, so every cookie
//   goes to both servers (path-matched), as a browser would send them.
// - Redirects are followed by hand, Location resolved against the current URL.
// - SameSite: the IdP and the app are different sites in production, so a navigation that
//   arrives through a redirect from another origin (or from a link in an e-mail) is treated as
//   cross-site: SameSite=Strict cookies are withheld, Lax/unspecified ones are sent on GET only.

const DEMO = new URL(process.env.DEMO_URL || 'http://127.0.0.1:3000');
const OP = new URL(process.env.OP_URL || 'http://127.0.0.1:4000');
const CALLBACK = new URL('/sso/oidc/callback', DEMO);
const TIMEOUT_MS = Number(process.env.DRIVE_TIMEOUT_MS || 15000);
const MAX_HOPS = 15;

// ---------------------------------------------------------------- cookie jar

class Jar {
  constructor(label) {
    this.label = label;
    this.cookies = new Map(); // host \t path \t name -> cookie
  }

  static defaultPath(url) {
    const p = url.pathname;
    if (!p.startsWith('/') || p.lastIndexOf('/') === 0) return '/';
    return p.slice(0, p.lastIndexOf('/'));
  }

  static pathMatches(cookiePath, requestPath) {
    if (cookiePath === requestPath) return true;
    if (!requestPath.startsWith(cookiePath)) return false;
    return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
  }

  store(url, setCookieHeaders) {
    const now = Date.now();
    for (const header of setCookieHeaders) {
      const [pair, ...attrs] = header.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const cookie = {
        name: pair.slice(0, eq).trim(),
        value: pair.slice(eq + 1).trim(),
        host: url.hostname,
        path: Jar.defaultPath(url),
        expires: null,
        secure: false,
        sameSite: 'lax', // browsers' default when the attribute is missing
      };
      let maxAge = null;
      let rejected = false;
      for (const attr of attrs) {
        const i = attr.indexOf('=');
        const key = (i < 0 ? attr : attr.slice(0, i)).trim().toLowerCase();
        const val = i < 0 ? '' : attr.slice(i + 1).trim();
        if (key === 'path' && val.startsWith('/')) cookie.path = val;
        else if (key === 'max-age' && /^-?\d+$/.test(val)) maxAge = Number(val);
        else if (key === 'expires') {
          const t = Date.parse(val);
          if (!Number.isNaN(t)) cookie.expires = t;
        } else if (key === 'secure') cookie.secure = true;
        else if (key === 'samesite') cookie.sameSite = val.toLowerCase();
        else if (key === 'domain') {
          const d = val.replace(/^\./, '').toLowerCase();
          if (d && d !== url.hostname && !url.hostname.endsWith(`.${d}`)) rejected = true;
        }
      }
      if (rejected) continue;
      if (maxAge !== null) cookie.expires = now + maxAge * 1000;
      const key = `${cookie.host}\t${cookie.path}\t${cookie.name}`;
      if (cookie.expires !== null && cookie.expires <= now) this.cookies.delete(key);
      else this.cookies.set(key, cookie);
    }
  }

  // Returns the Cookie header for a request, and the names of cookies withheld by SameSite.
  header(url, { crossSite, method }) {
    const now = Date.now();
    const out = [];
    const withheld = [];
    for (const [key, c] of this.cookies) {
      if (c.expires !== null && c.expires <= now) {
        this.cookies.delete(key);
        continue;
      }
      if (c.host !== url.hostname || !Jar.pathMatches(c.path, url.pathname)) continue;
      // Secure cookies: 127.0.0.1 is a potentially trustworthy origin, browsers send them.
      if (crossSite && (c.sameSite === 'strict' || (c.sameSite === 'lax' && method !== 'GET'))) {
        withheld.push(`${c.name} (SameSite=${c.sameSite})`);
        continue;
      }
      out.push(c);
    }
    out.sort((a, b) => b.path.length - a.path.length);
    return { cookie: out.map((c) => `${c.name}=${c.value}`).join('; '), withheld };
  }

  names() {
    return [...this.cookies.values()].map((c) => c.name);
  }
}

// ---------------------------------------------------------------- HTTP

class CheckError extends Error {
  constructor(reason, check = null) {
    super(reason);
    this.check = check;
  }
}

function snippet(text, n = 400) {
  const s = String(text ?? '').replace(/\s+/g, ' ').trim();
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

function describe(res) {
  const loc = res.location ? ` Location: ${res.location}` : '';
  const body = res.text ? ` body: ${snippet(res.text)}` : '';
  const withheld = res.withheld?.length
    ? ` [cross-site navigation: the browser withheld cookie(s) ${res.withheld.join(', ')}]`
    : '';
  return `${res.method} ${res.url} -> ${res.status}${loc}${body}${withheld}`;
}

// One request, no redirect following. `crossSite` says how the navigation was initiated.
async function request(jar, method, url, { form, crossSite = false, accept } = {}) {
  const target = new URL(url);
  const headers = { 'user-agent': 'ssokit-interop-driver' };
  const { cookie, withheld } = jar.header(target, { crossSite, method });
  if (cookie) headers.cookie = cookie;
  if (accept) headers.accept = accept;
  let body;
  if (form !== undefined) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(form).toString();
  }
  let res;
  try {
    res = await fetch(target, {
      method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (err) {
    throw new CheckError(`${method} ${target} failed: ${err.cause?.message || err.message}`);
  }
  jar.store(target, res.headers.getSetCookie());
  const text = await res.text();
  const rawLocation = res.headers.get('location');
  return {
    method,
    url: target.href,
    status: res.status,
    headers: res.headers,
    location: rawLocation ? new URL(rawLocation, target).href : null,
    rawLocation,
    text,
    crossSite,
    withheld,
  };
}

const isRedirect = (res) => [301, 302, 303, 307, 308].includes(res.status);
const sameOrigin = (a, b) => new URL(a).origin === new URL(b).origin;

// Follow redirects from `res` (GET, as a browser does after 301/302/303) until `stop(url)` says
// to stop before requesting a URL, or a non-redirect answer arrives.
async function follow(jar, res, { stop = () => false } = {}) {
  let current = res;
  let crossSite = res.crossSite;
  for (let hop = 0; hop < MAX_HOPS; hop += 1) {
    if (!isRedirect(current)) return { res: current, stoppedAt: null };
    if (!current.location) throw new CheckError(`redirect without Location: ${describe(current)}`);
    if (stop(current.location)) return { res: current, stoppedAt: current.location };
    crossSite = crossSite || !sameOrigin(current.url, current.location);
    current = await request(jar, 'GET', current.location, { crossSite });
  }
  throw new CheckError(`more than ${MAX_HOPS} redirects, last: ${describe(current)}`);
}

// ---------------------------------------------------------------- HTML forms

function decodeEntities(s) {
  return s.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos|#39);/gi, (m, e) => {
    const k = e.toLowerCase();
    if (k === 'amp') return '&';
    if (k === 'lt') return '<';
    if (k === 'gt') return '>';
    if (k === 'quot') return '"';
    if (k === 'apos') return "'";
    if (k.startsWith('#x')) return String.fromCodePoint(parseInt(k.slice(2), 16));
    if (k.startsWith('#')) return String.fromCodePoint(parseInt(k.slice(1), 10));
    return m;
  });
}

function attributes(tag) {
  const attrs = {};
  const re = /([^\s"'<>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
  const inner = tag.replace(/^<\s*[a-z]+/i, '').replace(/\/?>$/, '');
  for (const m of inner.matchAll(re)) {
    attrs[m[1].toLowerCase()] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return attrs;
}

function forms(html, baseUrl) {
  const out = [];
  for (const m of html.matchAll(/<form\b[^>]*>([\s\S]*?)<\/form\s*>/gi)) {
    const open = m[0].match(/^<form\b[^>]*>/i)[0];
    const attrs = attributes(open);
    const inputs = [...m[1].matchAll(/<input\b[^>]*>/gi)].map((i) => attributes(i[0]));
    out.push({
      action: new URL(attrs.action ?? '', baseUrl).href,
      method: (attrs.method || 'get').toUpperCase(),
      inputs,
      hidden: inputs.filter((i) => (i.type || '').toLowerCase() === 'hidden' && i.name !== undefined),
    });
  }
  return out;
}

// ---------------------------------------------------------------- checks

let passed = 0;
let failed = 0;

function pass(name) {
  passed += 1;
  console.log(`ok   ${name}`);
}

function fail(name, reason) {
  failed += 1;
  console.log(`FAIL ${name}: ${reason}`);
}

function check(name, cond, reason) {
  if (!cond) throw new CheckError(typeof reason === 'function' ? reason() : reason, name);
  pass(name);
}

// Runs a scenario; the first failing check ends it. Returns the scenario's result or undefined.
async function scenario(label, fn) {
  console.log(`# ${label}`);
  try {
    return await fn();
  } catch (err) {
    if (err instanceof CheckError) {
      fail(err.check ?? label, err.message);
    } else {
      fail(label, err.stack || String(err));
    }
    return undefined;
  }
}

function json(res) {
  try {
    return JSON.parse(res.text);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------- flow steps

// POST /login on the demo; expects a redirect to the OP's authorization endpoint.
async function startLogin(jar, email, tag) {
  const res = await request(jar, 'POST', new URL('/login', DEMO), { form: { email } });
  check(`${tag}: POST /login redirects to the OP's /auth`,
    (res.status === 303 || res.status === 302)
      && /^https?:\/\//i.test(res.rawLocation || '')
      && res.location.startsWith(`${OP.origin}/auth?`),
    () => `expected 303 to ${OP.origin}/auth?…, got ${describe(res)}`);
  const q = new URL(res.location).searchParams;
  const missing = ['response_type', 'client_id', 'redirect_uri', 'scope', 'state', 'nonce', 'code_challenge', 'code_challenge_method']
    .filter((k) => !q.get(k));
  check(`${tag}: authorization request carries state, nonce and S256 PKCE`,
    missing.length === 0 && q.get('code_challenge_method') === 'S256'
      && q.get('response_type') === 'code' && q.get('redirect_uri') === CALLBACK.href
      && q.get('scope').split(' ').includes('openid'),
    () => `missing [${missing}] or wrong values in ${res.location}`);
  return res;
}

// Walks the OP's pages (login interaction, consent if any) in `jar` and returns the callback URL
// the OP redirects to, without requesting it.
async function loginAtOp(jar, authRedirect, login, tag) {
  let res = authRedirect;
  for (let step = 0; step < 6; step += 1) {
    const { res: r, stoppedAt } = await follow(jar, res, { stop: (u) => u.startsWith(CALLBACK.href) });
    if (stoppedAt) {
      const cb = new URL(stoppedAt);
      check(`${tag}: OP redirects back to the callback with code, state and iss`,
        cb.searchParams.get('code') && cb.searchParams.get('state') && cb.searchParams.get('iss') === OP.origin,
        () => `unexpected callback URL ${stoppedAt}`);
      return stoppedAt;
    }
    if (r.status !== 200 || !new URL(r.url).pathname.startsWith('/interaction/')) {
      throw new CheckError(`${tag}: OP login: unexpected OP answer ${describe(r)}`);
    }
    const form = forms(r.text, r.url).find((f) => f.method === 'POST');
    const prompt = form?.hidden.find((i) => i.name === 'prompt')?.value;
    if (!form || !prompt) throw new CheckError(`${tag}: OP login: no interaction form in ${describe(r)}`);
    const fields = Object.fromEntries(form.hidden.map((i) => [i.name, i.value ?? '']));
    if (prompt === 'login') Object.assign(fields, { login, password: 'x' });
    res = await request(jar, 'POST', form.action, { form: fields });
  }
  throw new CheckError(`${tag}: OP login did not finish`);
}

// The callback as the browser requests it: a navigation arriving from the OP (cross-site).
function callback(jar, url) {
  return request(jar, 'GET', url, { crossSite: true });
}

function expectSignedInRedirect(res, name) {
  const to = res.location ? new URL(res.location) : null;
  check(name,
    (res.status === 303 || res.status === 302) && to && to.origin === DEMO.origin && to.pathname === '/',
    () => `expected 303 to /, got ${describe(res)}`);
}

async function me(jar) {
  return request(jar, 'GET', new URL('/me', DEMO), { accept: 'application/json' });
}

async function expectMe(jar, tag, expected) {
  const res = await me(jar);
  const body = json(res);
  const wrong = Object.entries(expected).filter(([k, v]) => body?.[k] !== v);
  check(`${tag}: GET /me shows ${Object.entries(expected).map(([k, v]) => `${k}=${v}`).join(' ')}`,
    res.status === 200 && body && wrong.length === 0 && body.id !== undefined && body.id !== null && body.id !== '',
    () => `${wrong.length ? `wrong [${wrong.map(([k]) => `${k}=${JSON.stringify(body?.[k])}`)}], ` : ''}${describe(res)}`);
  return body;
}

async function expectSignedOut(jar, tag) {
  const res = await me(jar);
  check(`${tag}: GET /me is not signed in`,
    res.status >= 400 && res.status < 500,
    () => `expected 401/403, got ${describe(res)}`);
}

async function logout(jar, tag) {
  const res = await request(jar, 'POST', new URL('/logout', DEMO), { form: {} });
  check(`${tag}: POST /logout`, res.status >= 200 && res.status < 400, () => describe(res));
  await expectSignedOut(jar, `${tag}: after logout`);
}

// Full SP-initiated login; returns the callback URL and the demo's answer to it.
async function ssoLogin(jar, email, login, tag) {
  const start = await startLogin(jar, email, tag);
  const cbUrl = await loginAtOp(jar, start, login, tag);
  const res = await callback(jar, cbUrl);
  return { cbUrl, res };
}

const is4xx = (res) => res.status >= 400 && res.status < 500;

// ---------------------------------------------------------------- scenarios

async function main() {
  console.log(`driving ${DEMO.origin} against OP ${OP.origin}`);

  const seeded = await scenario('seed data', async () => {
    const res = await request(new Jar('seed'), 'GET', new URL('/dev/users', DEMO));
    const body = json(res);
    const list = Array.isArray(body) ? body : (Array.isArray(body?.users) ? body.users : null);
    const ann = list?.find((u) => u?.email === 'ann@acme.test');
    if (res.status !== 200 || !ann) {
      console.log(`# (GET /dev/users gave no seeded Ann: ${res.status}; Ann's id is checked by a second login instead)`);
      return {};
    }
    pass(`seed: pre-seeded local user Ann is listed (id ${JSON.stringify(ann.id)})`);
    return { annId: ann.id };
  }) ?? {};

  // a) + b): JIT provisioning, then replay of the same callback.
  const a = await scenario('a) JIT login', async () => {
    const jar = new Jar('a');
    const { cbUrl, res } = await ssoLogin(jar, 'alice@acme.test', 'alice', 'a');
    expectSignedInRedirect(res, 'a: callback signs in and redirects to /');
    const alice = await expectMe(jar, 'a', { email: 'alice@acme.test', tenant: 'acme', role: 'member' });
    return { jar, cbUrl, alice };
  });

  if (a) {
    await scenario('b) replayed callback', async () => {
      const res = await callback(a.jar, a.cbUrl);
      check('b: the same callback URL again is refused (4xx)', is4xx(res), () => describe(res));
      const again = await expectMe(a.jar, 'b: nothing changed', { email: 'alice@acme.test' });
      check('b: still the same user id', again.id === a.alice.id,
        () => `id was ${JSON.stringify(a.alice.id)}, now ${JSON.stringify(again.id)}`);
      await logout(a.jar, 'b');
    });
  } else {
    fail('b) replayed callback', 'skipped: scenario a failed');
  }

  // c) login CSRF: a callback obtained by one browser, completed by another.
  await scenario('c) login CSRF', async () => {
    const attacker = new Jar('c-attacker');
    const start = await startLogin(attacker, 'alice@acme.test', 'c');
    const cbUrl = await loginAtOp(attacker, start, 'alice', 'c');
    const victim = new Jar('c-victim');
    const res = await callback(victim, cbUrl);
    check('c: callback from a browser that did not start the login is refused (4xx)', is4xx(res), () => describe(res));
    await expectSignedOut(victim, 'c: victim');
  });

  // d) + e): an SSO login matching a pre-seeded local user by e-mail is offered a link,
  // confirmed by a single-use e-mailed link.
  const d = await scenario('d) link to existing account', async () => {
    const jar = new Jar('d');
    const { res } = await ssoLogin(jar, 'ann@acme.test', 'ann', 'd');
    const { res: page } = await follow(jar, res);
    const offer = forms(page.text, page.url).find((f) => new URL(f.action).pathname === '/link/choose');
    check('d: callback shows the link offer page with a form posting to /link/choose',
      page.status === 200 && /<form/i.test(page.text) && offer && offer.method === 'POST'
        && new URL(offer.action).origin === DEMO.origin,
      () => `expected 200 HTML with <form method=post action=/link/choose>, got ${describe(page)}${
        page === res ? '' : ` (the callback answered ${describe(res)})`}`);
    check('d: the offer form carries hidden inputs', offer.hidden.length > 0,
      () => `no hidden inputs in the form: ${snippet(page.text)}`);
    const early = json(await me(jar));
    check('d: not signed in as Ann before the link is confirmed', early?.email !== 'ann@acme.test',
      () => `/me already shows ${JSON.stringify(early)}`);

    const fields = Object.fromEntries(offer.hidden.map((i) => [i.name, i.value ?? '']));
    fields.choice = 'link';
    const chosen = await request(jar, 'POST', offer.action, { form: fields });
    check('d: choosing "link" is accepted', chosen.status === 200 || chosen.status === 303 || chosen.status === 302,
      () => `sent ${JSON.stringify(Object.keys(fields))}, got ${describe(chosen)}`);
    if (isRedirect(chosen)) await follow(jar, chosen);

    const outboxRes = await request(jar, 'GET', new URL('/dev/outbox', DEMO), { accept: 'application/json' });
    const outbox = json(outboxRes);
    const mail = Array.isArray(outbox) ? outbox[outbox.length - 1] : undefined;
    check('d: a confirmation mail to ann@acme.test with a link is in /dev/outbox',
      outboxRes.status === 200 && mail?.to === 'ann@acme.test' && typeof mail?.link === 'string' && mail.link,
      () => `newest mail ${JSON.stringify(mail)}; ${describe(outboxRes)}`);
    const link = new URL(mail.link, DEMO).href;

    // Following a link from a mail client is a cross-site top-level navigation.
    const confirmed = await request(jar, 'GET', link, { crossSite: true });
    expectSignedInRedirect(confirmed, 'd: the confirmation link links the accounts, signs in and redirects to /');
    const ann = await expectMe(jar, 'd', { email: 'ann@acme.test', tenant: 'acme' });
    if (seeded.annId !== undefined) {
      check("d: signed in as the pre-seeded Ann (same id)", ann.id === seeded.annId,
        () => `/me id ${JSON.stringify(ann.id)} != seeded ${JSON.stringify(seeded.annId)}`);
    }
    return { jar, link, ann };
  });

  if (d) {
    await scenario('e) link reuse', async () => {
      const res = await request(d.jar, 'GET', d.link, { crossSite: true });
      check('e: the same confirmation link again is refused (4xx)', is4xx(res), () => describe(res));
      await logout(d.jar, 'e');
    });
    await scenario('d2) linked identity signs in directly', async () => {
      const jar = new Jar('d2');
      const { res } = await ssoLogin(jar, 'ann@acme.test', 'ann', 'd2');
      expectSignedInRedirect(res, 'd2: callback signs in directly (no link offer) and redirects to /');
      const ann = await expectMe(jar, 'd2', { email: 'ann@acme.test' });
      check('d2: same user as the linked account', ann.id === d.ann.id,
        () => `id ${JSON.stringify(ann.id)} != ${JSON.stringify(d.ann.id)}`);
    });
  } else {
    fail('e) link reuse', 'skipped: scenario d failed');
  }

  // f) return_to must never be an open redirect: refused before any redirect.
  await scenario('f) open redirect', async () => {
    for (const target of ['//evil.example', 'https://evil.example/', '/\\evil.example']) {
      const res = await request(new Jar('f'), 'POST', new URL('/login', DEMO),
        { form: { email: 'alice@acme.test', return_to: target } });
      check(`f: return_to=${target} is refused with 400`, res.status === 400 && !res.location, () => describe(res));
    }
  });

  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed === 0 && passed > 0 ? 0 : 1;
}

main().catch((err) => {
  console.log(`FAIL driver: ${err.stack || err}`);
  console.log(`${passed} passed, ${failed + 1} failed`);
  process.exitCode = 1;
});
