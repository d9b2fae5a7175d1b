// The order page. It only ever asks order (this origin); order does the calling inside the cluster.
// A pod may run at 50m CPU, so each panel waits for its answer before the next round and slows down while failing.
const N = Number(document.querySelector('#live').dataset.n) || 10
const ROUND_MS = 1000
const FAILING_MS = 5000
const TIMEOUT_MS = 20000

const EXPLAIN = {
  DNS_FAILED:
    'No DNS answer for this name. In a cluster: is there a Service of that name in that namespace (kubectl get services)? Outside a cluster (npm start) there is no cluster DNS, so only the environment variables work.',
  CONNECTION_REFUSED:
    'Nothing accepted the connection: no ready pod behind the Service, or a wrong port. Check kubectl get endpointslices.',
  CONNECTION_LOST:
    'A pod went away in the middle of a call: a rollout, a crash, a scale-down. A GET is retried on a new connection, which the Service gives to a pod that is still ready; an order is not resent, since it may already have been charged.',
  RETRIED:
    'Their connections broke: a pod went away before the Service stopped sending it new connections. Each retry took a new connection and reached a pod that still answers.',
  UPSTREAM_TIMEOUT: 'Nobody answered in time: a wrong port, a NetworkPolicy, or a pod starved at its CPU limit.',
  UPSTREAM_ERROR: 'A pod answered, but with an error status.',
  ORDER_UNREACHABLE:
    'The page cannot reach order itself. Is kubectl port-forward still running? It ends when the pod it picked goes away: start it again and reload.',
  ORDER_TIMEOUT: 'order was slow to answer: at a small CPU limit, calls that time out one after another add up.',
}

// Optional parts are written `condition ? node : null`; the DOM would print those nulls as text.
const present = (children) => children.filter((child) => child !== null && child !== undefined && child !== false)

/** document.createElement with attributes and children (nodes or text). */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag)
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (key === 'class') el.className = value
    else el.setAttribute(key, value)
  }
  el.append(...present(children))
  return el
}

function show(el, ...children) {
  el.replaceChildren(...present(children))
}

class Problem extends Error {
  constructor(body) {
    super(body.message)
    this.body = body
  }
}

/** JSON from order, or a Problem carrying order's error answer (code, message, hint, url, ...). */
async function ask(path, init = {}) {
  let response
  try {
    response = await fetch(path, {
      ...init,
      headers: { accept: 'application/json', ...init.headers },
      signal: AbortSignal.timeout(TIMEOUT_MS),
    })
  } catch (error) {
    throw new Problem(
      error.name === 'TimeoutError'
        ? { code: 'ORDER_TIMEOUT', message: `order did not answer within ${TIMEOUT_MS / 1000} s` }
        : { code: 'ORDER_UNREACHABLE', message: `the request to order failed (${error.message})` },
    )
  }
  const body = await response.json().catch(() => null)
  if (response.ok && body) return body
  throw new Problem(
    body?.code
      ? body
      : { code: `HTTP_${response.status}`, message: `order answered ${response.status} ${response.statusText}` },
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

// ---- live panels ----

const state = { connection: 'new', paused: false }
const wakers = new Set()
/** Wakes every waiting panel: the mode changed, the page was unpaused or became visible again. */
function poke() {
  for (const wake of [...wakers]) wake()
}
function nap(ms) {
  return new Promise((resolve) => {
    const wake = () => {
      clearTimeout(timer)
      wakers.delete(wake)
      resolve()
    }
    const timer = setTimeout(wake, Math.max(0, ms))
    wakers.add(wake)
  })
}

function setStatus(panel, text, ok) {
  // Only a changed summary is announced: a screen reader hears "2 pods answer" once, not every second.
  if (panel.status.textContent !== text) panel.status.textContent = text
  panel.status.className = `status ${ok ? 'ok' : 'bad'}`
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
    report.note ? h('p', { class: 'note' }, report.note) : null,
    report.retried
      ? problemView({ code: 'RETRIED', message: `${report.retried} of ${report.n} calls answered only after a retry.` })
      : null,
    ...report.errors.map((error) => problemView(error, `${error.count}× `)),
    h('p', { class: 'meta mono' }, report.url),
  )
}

function drawFailure(panel, problem, mode) {
  setStatus(panel, `failing: ${problem.code}`, false)
  show(
    panel.out,
    problemView(problem),
    h('p', { class: 'meta' }, `${modeText(mode)} · trying again every ${FAILING_MS / 1000} s with one call`),
  )
}

async function run(panel) {
  let failing = false
  for (;;) {
    if (state.paused || document.hidden) {
      await nap(60000)
      continue
    }
    const started = performance.now()
    const mode = state.connection
    // While a way fails, one call per try is enough to see it recover, and costs the pod little.
    const n = failing ? 1 : N
    try {
      drawSpread(panel, await ask(`/payment/spread?format=json&n=${n}&via=${panel.via}&connection=${mode}`))
      failing = false
    } catch (error) {
      failing = true
      drawFailure(panel, problemOf(error), mode)
    }
    await nap((failing ? FAILING_MS : ROUND_MS) - (performance.now() - started))
  }
}

for (const el of document.querySelectorAll('.panel[data-via]')) {
  run({ via: el.dataset.via, status: el.querySelector('.status'), out: el.querySelector('.out') })
}

for (const radio of document.querySelectorAll('input[name="connection"]')) {
  radio.addEventListener('change', () => {
    state.connection = radio.value
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
document.addEventListener('visibilitychange', () => {
  if (!document.hidden) poke()
})

// ---- place an order ----

const orderForm = document.querySelector('#order-form')
const orderOut = document.querySelector('#order-out')
const orderList = document.querySelector('#orders')

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
callDelivery('ns')

// ---- discovery ----

const discoveryOut = document.querySelector('#discovery-out')
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
      h(
        'div',
        { class: 'scroll' },
        h(
          'table',
          null,
          h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Answer'))),
          h(
            'tbody',
            null,
            ...names.map(({ name, addresses, error }) =>
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
              ),
            ),
          ),
        ),
      ),
    )
  } catch (error) {
    show(discoveryOut, problemView(problemOf(error)))
  }
}
document.querySelector('#discover').addEventListener('click', discover)
discover()
