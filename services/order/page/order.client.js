// The order page. It only ever asks order (this origin); order does the calling inside the cluster.
// A pod may run at 50m CPU, and an open page must not be what fills it (issue 12: ≤ 10% of it): one spread every
// couple of seconds, the panels taking turns, nothing while the tab is hidden, and order's own "not now" obeyed.
const LIVE = document.querySelector('#live')
const N = Number(LIVE.dataset.n) || 6
const ROUND_MS = Number(LIVE.dataset.roundMs) || 2000
const TIMEOUT_MS = 20000
// A way that fails is asked with one call, less and less often: it costs the pod little and still shows recovery.
const PANEL_BACKOFF = { firstMs: 5000, capMs: 60000 }
// order unreachable: the page's own tries thin out too, so many open pages do not hammer a restarting pod.
const ORDER_BACKOFF = { firstMs: 2000, capMs: 60000 }
// Retry-After is obeyed however long, within reason: a bogus header must not stop the page for good.
const MAX_HOLD_S = 600

const EXPLAIN = {
  DNS_FAILED:
    "No DNS answer for this name. In a cluster: is there a Service of that name in that namespace (kubectl get services), and is the cluster's domain the one order was given (CLUSTER_DOMAIN)? Outside a cluster, npm start's DNS stand-in answers only payment's and delivery's names.",
  CONNECTION_REFUSED:
    'Nothing accepted the connection: no ready pod behind the Service, or a wrong port. Check kubectl get endpointslices.',
  CONNECTION_LOST:
    'A pod went away in the middle of a call: a rollout, a crash, a scale-down. A GET is retried on a new connection, which the Service gives to a pod that is still ready; an order is not resent, since it may already have been charged.',
  RETRIED:
    'Their connections broke: a pod went away before the Service stopped sending it new connections. Each retry took a new connection and reached a pod that still answers.',
  UPSTREAM_TIMEOUT: 'Nobody answered in time: a wrong port, a NetworkPolicy, or a pod starved at its CPU limit.',
  UPSTREAM_ERROR: 'A pod answered, but with an error status.',
  UPSTREAM_BUSY: 'The payment pod is at its limit and said when to come back; this page waits that long.',
  OVERLOADED:
    'order is answering as many requests as its CPU limit allows and turned this one away at once instead of queueing it. This page waits as long as order asked.',
  TOO_MANY_SPREADS: 'order is already running as many spreads as it takes at once: other pages or curl loops are open.',
  ORDER_UNREACHABLE:
    'The page cannot reach order itself. Is kubectl port-forward still running? It ends when the pod it picked goes away: start it again and reload.',
  ORDER_TIMEOUT: 'order was slow to answer: at a small CPU limit, calls that time out one after another add up.',
  NAME_NOT_CONFIGURED: 'order resolves only the names it is configured with; it is no resolver for anything else.',
}

// Optional parts are written `condition ? node : null`; the DOM would print those nulls as text.
const present = (children) => children.filter((child) => child !== null && child !== undefined && child !== false)

/** document.createElement with attributes and children (nodes or text). */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag)
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined) continue
    if (key === 'class') el.className = value
    else el.setAttribute(key, value)
  }
  el.append(...present(children))
  return el
}

function show(el, ...children) {
  el.replaceChildren(...present(children))
}

// Rounded, not ceiled: a wait of Retry-After: 1 plus its jitter reads "1 s", as order said.
const seconds = (ms) => Math.max(1, Math.round(ms / 1000))

/** Jitter spreads out the retries of many pages that failed together (an order pod restarting under a class). */
function backoff({ firstMs, capMs }, failures) {
  return Math.min(capMs, firstMs * 2 ** Math.max(0, failures - 1)) * (0.8 + 0.4 * Math.random())
}

class Problem extends Error {
  /** body: order's error answer (code, message, hint, url, ...); retryAfterS: order asked to wait; unreachable: no answer at all. */
  constructor(body, { retryAfterS = null, unreachable = false } = {}) {
    super(body.message)
    this.body = body
    this.retryAfterS = retryAfterS
    this.unreachable = unreachable
  }
}

/** Retry-After in seconds (a number or an HTTP date), on the answers where it means "come back then". */
function retryAfterOf(response) {
  const value = response.headers.get('retry-after')
  if (![429, 503].includes(response.status) || !value) return null
  const s = /^\d+$/.test(value.trim()) ? Number(value) : (Date.parse(value) - Date.now()) / 1000
  return Number.isFinite(s) ? Math.min(MAX_HOLD_S, Math.max(1, Math.ceil(s))) : null
}

/** JSON from order, or a Problem carrying order's error answer. Every answer tells `hold` whether order can take more. */
async function ask(path, init = {}) {
  let response
  try {
    response = await fetch(path, {
      ...init,
      headers: { accept: 'application/json', ...init.headers },
      signal: AbortSignal.timeout(TIMEOUT_MS),
    })
  } catch (error) {
    const timedOut = error.name === 'TimeoutError'
    const problem = new Problem(
      timedOut
        ? { code: 'ORDER_TIMEOUT', message: `order did not answer within ${TIMEOUT_MS / 1000} s` }
        : { code: 'ORDER_UNREACHABLE', message: `the request to order failed (${error.message})` },
      { unreachable: true },
    )
    hold.failed(problem)
    throw problem
  }
  const body = await response.json().catch(() => null)
  const retryAfterS = retryAfterOf(response)
  if (retryAfterS !== null) hold.busy(retryAfterS, body?.code ? body : null)
  else hold.answered()
  if (response.ok && body) return body
  // The project's error shape is {statusCode, error, code, message, ...}; anything else (a proxy's page) by status.
  throw new Problem(
    body?.code
      ? body
      : { code: `HTTP_${response.status}`, message: `order answered ${response.status} ${response.statusText}` },
    { retryAfterS },
  )
}

function problemView(problem, prefix = '') {
  const { code, message, hint, url, cause, orderId } = problem
  return h(
    'div',
    { class: 'problem', role: 'group', 'aria-label': `Failure ${code}` },
    h('p', null, h('strong', null, `⚠ ${prefix}${code}`), ` ${message}`),
    EXPLAIN[code] ? h('p', null, EXPLAIN[code]) : null,
    hint ? h('p', null, 'Try: ', h('code', null, hint)) : null,
    url ? h('p', { class: 'meta' }, `URL ${url}${cause ? ` · ${cause}` : ''}`) : null,
    orderId ? h('p', { class: 'meta' }, `order ${orderId} was not paid`) : null,
  )
}

function problemOf(error) {
  return error instanceof Problem ? error.body : { code: 'PAGE_ERROR', message: String(error) }
}

// Each pod keeps its colour and pattern everywhere on the page, so a pod is recognisable across panels.
const podIndex = new Map()
function podClass(pod) {
  if (!podIndex.has(pod)) podIndex.set(pod, podIndex.size % 6)
  return `p${podIndex.get(pod)}`
}
const chip = (pod) => h('span', { class: `chip ${podClass(pod)}`, 'aria-hidden': 'true' })

function bar(label, count, n, fillClass) {
  const fill = h('span', { class: `fill ${fillClass}` })
  // CSSOM, not a style attribute: the Content-Security-Policy allows no inline styles.
  fill.style.width = `${(100 * count) / n}%`
  return h(
    'li',
    null,
    h('span', { class: 'pod' }, label),
    h('span', { class: 'count' }, `${count} of ${n}`),
    h('span', { class: 'bar', 'aria-hidden': 'true' }, fill),
  )
}

const modeText = (mode) => (mode === 'reuse' ? 'one reused connection' : 'a new connection per call')

// ---- waiting ----

const wakers = new Set()
/** Wakes everything waiting: the mode changed, the page was unpaused or became visible, order can take more. */
function poke() {
  for (const wake of [...wakers]) wake()
}
/** Sleeps `ms` (Infinity: until poked), or less when poked. */
function nap(ms) {
  return new Promise((resolve) => {
    const wake = () => {
      clearTimeout(timer)
      wakers.delete(wake)
      resolve()
    }
    const timer = Number.isFinite(ms) ? setTimeout(wake, Math.max(0, ms)) : undefined
    wakers.add(wake)
  })
}

const hidden = () => document.visibilityState === 'hidden'

// ---- order's own "not now": Retry-After, or no answer at all ----

// Always in the page and empty when all is well: a live region that appears with its text is often not announced.
const notice = document.querySelector('#live-notice')
const hold = {
  kind: null,
  until: 0,
  downs: 0,

  /** order (or payment behind it) said when to come back: nothing is asked before then, and a little after. */
  busy(retryAfterS, problem) {
    this.downs = 0
    this.set('busy', retryAfterS * 1000 * (1 + 0.2 * Math.random()), problem)
  },
  /** No answer at all: tries thin out exponentially, up to a cap. */
  failed(problem) {
    this.downs++
    this.set('down', backoff(ORDER_BACKOFF, this.downs), problem.body)
  },
  answered() {
    if (this.kind === null) return
    this.kind = null
    this.until = 0
    this.downs = 0
    notice.replaceChildren()
    poke()
  },
  remaining() {
    return this.kind === null ? 0 : Math.max(0, this.until - performance.now())
  },

  set(kind, ms, problem) {
    this.kind = kind
    this.until = performance.now() + ms
    const who =
      kind === 'down'
        ? problem?.code === 'ORDER_TIMEOUT'
          ? 'order is slow to answer'
          : 'order does not answer'
        : problem?.code === 'UPSTREAM_BUSY'
          ? 'payment is busy'
          : 'order is busy'
    const text = `${who} — retrying in ${seconds(ms)} s`
    // Only a changed sentence is rewritten, so a screen reader is not told the same thing every second.
    if (notice.querySelector('.headline')?.textContent === text) return
    show(
      notice,
      h('p', { class: 'headline' }, h('strong', null, text)),
      h('p', null, 'The live panels ask order nothing until then.'),
      problem ? problemView(problem) : null,
    )
  },
}

/** Resolves once order may be asked again. */
async function orderTakes() {
  while (hold.remaining() > 0) await nap(hold.remaining())
}

// ---- live panels ----

const state = { connection: 'new', paused: false }
const panels = [...document.querySelectorAll('.panel[data-via]')].map((el) => ({
  via: el.dataset.via,
  el,
  status: el.querySelector('.status'),
  out: el.querySelector('.out'),
  due: 0,
  failures: 0,
  tally: { mode: null, pods: new Map(), answered: 0 },
}))

function setStatus(panel, text, ok) {
  // Only a changed summary is announced: a screen reader hears "2 pods answer" once, not every round.
  if (panel.status.textContent !== text) panel.status.textContent = text
  panel.status.className = `status ${ok ? 'ok' : 'bad'}`
}

/** Marks the panel just redrawn, so the turn-taking is visible. */
function freshen(panel) {
  panel.el.classList.remove('fresh')
  void panel.el.offsetWidth
  panel.el.classList.add('fresh')
}

/**
 * Each round is a few calls, to keep the pod's cost down, and a few calls land on one pod alone now and then; the
 * answers added up since the mode was chosen show the Service's spread however each round fell.
 */
function tallied(panel, report) {
  const { tally } = panel
  if (tally.mode !== report.connection) Object.assign(tally, { mode: report.connection, pods: new Map(), answered: 0 })
  for (const { pod, count } of report.pods) tally.pods.set(pod, (tally.pods.get(pod) ?? 0) + count)
  tally.answered += report.answered
  const pods = [...tally.pods].sort(([a], [b]) => (a < b ? -1 : 1)).map(([pod, count]) => `${pod} ${count}`)
  return h('p', { class: 'meta tally' }, `So far, ${tally.answered} answers: ${pods.join(' · ')}`)
}

function drawSpread(panel, report) {
  const pods = report.pods.map(({ pod }) => pod)
  const summary = pods.length === 1 ? `1 pod answers: ${pods[0]}` : `${pods.length} pods answer: ${pods.join(', ')}`
  setStatus(panel, report.failed ? `${summary}; ${report.failed} failed` : summary, report.failed === 0)
  show(
    panel.out,
    h('p', { class: 'meta' }, `${report.answered} of ${report.n} answered, ${modeText(report.connection)}`),
    h(
      'ul',
      { class: 'bars', 'aria-label': `Answers by pod, ${modeText(report.connection)}` },
      ...report.pods.map(({ pod, ip, count }) => {
        const item = bar(pod, count, report.n, podClass(pod))
        item.firstChild.prepend(chip(pod))
        item.title = ip
        return item
      }),
      report.failed ? bar('failed', report.failed, report.n, 'failed') : null,
    ),
    tallied(panel, report),
    report.note ? h('p', { class: 'note' }, report.note) : null,
    report.retried
      ? problemView({ code: 'RETRIED', message: `${report.retried} of ${report.n} calls answered only after a retry.` })
      : null,
    ...report.errors.map((error) => problemView(error, `${error.count}× `)),
    h('p', { class: 'meta mono' }, report.url),
  )
  freshen(panel)
}

function drawFailure(panel, problem, mode, retryMs) {
  setStatus(panel, `failing: ${problem.code}`, false)
  show(
    panel.out,
    problemView(problem),
    h('p', { class: 'meta' }, `${modeText(mode)} · trying again in ${seconds(retryMs)} s with one call`),
  )
  freshen(panel)
}

/** One spread for one panel. order's own refusals (busy, unreachable) are the hold's business, not the panel's. */
async function round(panel) {
  const mode = state.connection
  const n = panel.failures ? 1 : N
  try {
    const report = await ask(`/payment/spread?format=json&n=${n}&via=${panel.via}&connection=${mode}`)
    panel.failures = 0
    // A switch of mode while this was asked makes the panel due again at once.
    panel.due = mode === state.connection ? performance.now() + ROUND_MS * panels.length : 0
    drawSpread(panel, report)
  } catch (error) {
    if (error instanceof Problem && (error.retryAfterS !== null || error.unreachable)) return
    panel.failures++
    const retryMs = backoff(PANEL_BACKOFF, panel.failures)
    panel.due = performance.now() + retryMs
    drawFailure(panel, problemOf(error), mode, retryMs)
  }
}

/** How long until the next spread may be asked, and for which panel: the one due first. */
function next() {
  if (state.paused || hidden()) return { wait: Number.POSITIVE_INFINITY }
  const held = hold.remaining()
  if (held > 0) return { wait: held }
  const panel = panels.reduce((first, other) => (other.due < first.due ? other : first))
  return { wait: panel.due - performance.now(), panel }
}

/** One spread at a time for the whole page, at least ROUND_MS apart unless the reader asks for something new. */
async function poll() {
  for (;;) {
    const { wait, panel } = next()
    if (wait > 0) {
      await nap(wait)
      continue
    }
    await round(panel)
    await nap(ROUND_MS)
  }
}

for (const radio of document.querySelectorAll('input[name="connection"]')) {
  radio.addEventListener('change', () => {
    state.connection = radio.value
    for (const panel of panels) panel.due = 0
    poke()
  })
}

const pause = document.querySelector('#pause')
pause.addEventListener('click', () => {
  state.paused = !state.paused
  pause.setAttribute('aria-pressed', String(state.paused))
  pause.textContent = state.paused ? 'Resume' : 'Pause'
  poke()
})
// A hidden tab asks nothing: a page left open in the background would otherwise cost the pod for nobody.
document.addEventListener('visibilitychange', poke)

// ---- place an order ----

const orderForm = document.querySelector('#order-form')
const orderOut = document.querySelector('#order-out')
const orderList = document.querySelector('#orders')

function drawOrder(order) {
  const paidBy = h(
    'strong',
    { class: 'mono', 'data-payment-pod': order.paymentPod },
    chip(order.paymentPod),
    order.paymentPod,
  )
  show(
    orderOut,
    h('p', null, h('span', { class: 'good' }, '✓ Paid. '), 'Payment pod ', paidBy, ` took it (via ${order.via}).`),
    h('p', { class: 'meta mono' }, `${order.orderId} · ${order.payment.paymentId}`),
  )
  orderList.prepend(
    h(
      'li',
      null,
      chip(order.paymentPod),
      `${order.quantity} × ${order.item}, ${order.amount.toLocaleString()} ${order.currency}: `,
      h('span', { class: 'mono' }, order.paymentPod),
    ),
  )
  while (orderList.children.length > 6) orderList.lastChild.remove()
}

orderForm.addEventListener('submit', async (event) => {
  event.preventDefault()
  const button = orderForm.querySelector('button')
  const form = new FormData(orderForm)
  button.disabled = true
  show(orderOut, h('p', { class: 'muted' }, 'Placing the order…'))
  try {
    const order = await ask('/orders?format=json', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ item: form.get('item'), quantity: Number(form.get('quantity')) }),
    })
    drawOrder(order)
  } catch (error) {
    show(orderOut, problemView(problemOf(error)))
  } finally {
    button.disabled = false
  }
})

// ---- another namespace ----

const deliveryOut = document.querySelector('#delivery-out')
async function callDelivery(via) {
  show(deliveryOut, h('p', { class: 'muted' }, 'Calling…'))
  try {
    const call = await ask(`/delivery?format=json&via=${via}`)
    const who = call.answeredBy
    show(
      deliveryOut,
      h(
        'p',
        null,
        h('span', { class: 'good' }, '✓ '),
        `${who.service} pod `,
        h('strong', { class: 'mono' }, who.pod),
        ` in namespace ${who.namespace} answered in ${call.ms} ms.`,
      ),
      h('p', { class: 'meta mono' }, `${call.url} → ${call.address}`),
    )
  } catch (error) {
    show(deliveryOut, problemView(problemOf(error)))
  }
}
for (const button of document.querySelectorAll('[data-delivery]')) {
  button.addEventListener('click', () => callDelivery(button.dataset.delivery))
}

// ---- the search path, step by step ----

const resolveForm = document.querySelector('#resolve-form')
const resolveOut = document.querySelector('#resolve-out')

/** The candidates in the order the resolver tries them (resolv.conf(5)), as order's /discovery/resolve walks them. */
function candidates(name, search, ndots) {
  if (name.endsWith('.')) return [name.slice(0, -1)]
  const suffixed = search.map((domain) => `${name}.${domain}`)
  return name.split('.').length - 1 >= ndots ? [name, ...suffixed] : [...suffixed, name]
}

function searchRule({ name, ndots }) {
  const dots = name.split('.').length - 1
  if (name.endsWith('.')) return `${name} ends with a dot, so it is tried only as it is.`
  const has = `${name} has ${dots === 1 ? '1 dot' : `${dots} dots`}`
  return dots >= ndots
    ? `${has}, at least ndots:${ndots}: it is tried as it is first, then with each search domain.`
    : `${has}, fewer than ndots:${ndots}: each search domain is tried first, then the name as it is.`
}

function stepView(name, step, resolved) {
  if (!step) return h('li', { class: 'skipped' }, h('code', null, name), ' not asked: an earlier candidate resolved')
  const hit = step.answer === 'address'
  return h(
    'li',
    { class: hit ? 'hit' : 'miss', 'aria-current': name === resolved ? 'true' : null },
    h('code', null, name),
    ' ',
    h('strong', null, hit ? `✓ ${step.addresses.join(', ')}` : `✕ ${step.answer}`),
    h('span', { class: 'meta' }, ` ${step.ms} ms`),
  )
}

function drawResolution(r) {
  const names = [...r.steps.map((step) => step.name), ...candidates(r.name, r.search, r.ndots).slice(r.steps.length)]
  const list = h('ol', { class: 'steps', 'aria-label': 'Candidates, in the order they were tried' })
  list.append(...names.map((name, i) => stepView(name, r.steps[i], r.resolved)))
  show(
    resolveOut,
    h('p', null, searchRule(r)),
    list,
    r.resolved
      ? h('p', null, h('span', { class: 'good' }, '✓ '), `${r.name} resolved as `, h('code', null, r.resolved))
      : h(
          'p',
          null,
          h('strong', null, '✕ No candidate had an address: '),
          `order's calls to ${r.name} fail with DNS_FAILED.`,
        ),
    h(
      'p',
      { class: 'meta mono' },
      `asked ${r.nameservers.join(' ')} (${r.resolver}) · search ${r.search.join(' ') || '(none)'}`,
    ),
  )
}

async function resolveName() {
  const name = resolveForm.elements.name.value
  const button = resolveForm.querySelector('button')
  button.disabled = true
  show(resolveOut, h('p', { class: 'muted' }, `Resolving ${name}…`))
  try {
    drawResolution(await ask(`/discovery/resolve?format=json&name=${encodeURIComponent(name)}`))
  } catch (error) {
    show(resolveOut, problemView(problemOf(error)))
  } finally {
    button.disabled = false
  }
}
resolveForm.addEventListener('submit', (event) => {
  event.preventDefault()
  resolveName()
})

// ---- discovery ----

const discoveryOut = document.querySelector('#discovery-out')

function namesTable(names) {
  const row = ({ name, addresses, error }) =>
    h(
      'tr',
      null,
      h('td', { class: 'mono' }, name),
      h(
        'td',
        null,
        error
          ? h('span', null, '✕ no answer ', h('code', null, error))
          : h('span', null, '✓ ', h('code', null, addresses.join(', '))),
      ),
    )
  return h(
    'div',
    { class: 'scroll' },
    h(
      'table',
      null,
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Answer'))),
      h('tbody', null, ...names.map(row)),
    ),
  )
}

async function discover() {
  try {
    const { serviceVariables, resolvConf, names } = await ask('/discovery?format=json')
    const variables = Object.entries(serviceVariables)
    show(
      discoveryOut,
      h('h3', null, 'Service variables'),
      h(
        'p',
        { class: 'muted' },
        'Injected at start for each Service that existed then. A Service created later is missing here until the pod restarts.',
      ),
      h('pre', null, variables.length ? variables.map(([key, value]) => `${key}=${value}`).join('\n') : '(none)'),
      h('h3', null, '/etc/resolv.conf'),
      h(
        'p',
        { class: 'muted' },
        'The search path turns a short name into a full one; with ndots:5, names with fewer dots try the search path first.',
      ),
      h(
        'pre',
        null,
        resolvConf
          ? `nameserver ${resolvConf.nameservers.join(' ') || '(none)'}\nsearch ${resolvConf.search.join(' ') || '(none)'}\nndots ${resolvConf.ndots ?? '(default 1)'}`
          : '(unreadable)',
      ),
      h('h3', null, 'Names, resolved now'),
      namesTable(names),
    )
  } catch (error) {
    show(discoveryOut, problemView(problemOf(error)))
  }
}
document.querySelector('#discover').addEventListener('click', discover)

// ---- start ----

poll()
// What does not change while the pod runs is asked once, one request after another rather than all at once: a 50m
// pod that just served the page need not answer four more things in the same instant.
;(async () => {
  for (const task of [resolveName, () => callDelivery('ns'), discover]) {
    await orderTakes()
    await task()
  }
})()
