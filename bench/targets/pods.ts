// Targets a pod's budget sets: start-up against bare, memory against the 64Mi limit, idle CPU and the page's cost
// against the 50m.
import { round } from '../stats.ts'
import { type Draft, type Figures, judged, known, pct } from './judge.ts'

const times = (v: number) => `${v}×`
const mib = (v: number) => `${v} MiB`

export function startupTargets(f: Figures): Draft[] {
  const bare = f.startup.find((s) => s.id === 'bare node:http')
  return [
    { id: 'payment', max: 2 },
    { id: 'order', max: 2.5 },
  ].map(({ id, max }) => {
    const s = f.startup.find((x) => x.id === id)
    const check = {
      id: `startup-${id}`,
      name: `${id}: docker run to the first 200 on /readyz at --cpus 0.05 --memory 64m, vs bare`,
      target: `≤ ${max}×`,
      ok: (v: number) => v <= max,
      show: times,
    }
    if (!s || !bare) return judged(check, null, '')
    const beside = `${s.readySeconds} s vs bare ${bare.readySeconds} s`
    const bound = `CPU to ready ${s.cpuToReadyMs} ms vs bare ${bare.cpuToReadyMs} ms; at 0.05 cpu a ms of CPU is ~20 ms of wall time`
    return judged(check, round(s.readySeconds / bare.readySeconds, 2), beside, bound)
  })
}

/** The highest working set a pod of ours reached under any load of the run. */
function peakOf(f: Figures, pod: 'payment' | 'order'): { peak: number; where: string } {
  const seen: { peak: number; where: string }[] = []
  for (const row of f.throughput?.rows.filter((r) => r.logLevel === 'info') ?? []) {
    const i = row.id === 'payment-get' ? (pod === 'payment' ? 0 : -1) : pod === 'order' ? 0 : 1
    if (i >= 0) seen.push({ peak: row.peakWorkingSetMiB[i]!, where: `${row.id} loads` })
  }
  for (const g of f.memory.filter((m) => m.pod === pod)) seen.push({ peak: g.peakWorkingSetMiB, where: g.title })
  const valid = seen.filter((x) => known(x.peak))
  return valid.length ? valid.reduce((a, b) => (b.peak > a.peak ? b : a)) : { peak: Number.NaN, where: '' }
}

function memoryTargets(f: Figures): Draft[] {
  const drafts: Draft[] = []
  for (const pod of ['payment', 'order'] as const) {
    const idle = f.idle.find((x) => x.pod === pod)
    const idleCheck = {
      id: `ws-idle-${pod}`,
      name: `${pod}: working set idle`,
      target: '≤ 48 MiB',
      ok: (v: number) => v <= 48,
      show: mib,
    }
    const bare = f.idle.find((x) => x.pod === 'bare node:http')
    const idleBound = `a bare node:http pod idles at ${bare?.workingSetMiB ?? '–'} MiB`
    drafts.push(judged(idleCheck, idle?.workingSetMiB, idle ? `RSS ${idle.rssMiB} MiB` : '', idleBound))
    const { peak, where } = peakOf(f, pod)
    const peakCheck = {
      ...idleCheck,
      id: `ws-peak-${pod}`,
      name: `${pod}: working set peak under load at 64m`,
      target: '≤ 56 MiB',
    }
    drafts.push(judged({ ...peakCheck, ok: (v) => v <= 56 }, peak, where, `reached under ${where}`))
  }
  for (const g of f.memory) {
    const check = {
      id: `flat-${g.id}`,
      name: `${g.id}: working set growth over the second half of ${g.title}`,
      target: '≤ 2 MiB (flat)',
      ok: (v: number) => v <= 2,
      show: mib,
    }
    const beside = `${g.samples[0]?.workingSetMiB} → ${g.samples.at(-1)?.workingSetMiB} MiB`
    const steps = g.samples.map((x) => `${x.heapUsedMiB ?? '–'}/${x.heapTotalMiB ?? '–'}`).join(' ')
    const heap = `V8 heap used/total after each step: ${steps} MiB`
    drafts.push(judged(check, g.secondHalfGrowthMiB, beside, heap))
  }
  return [...drafts, oomTarget(f)]
}

function oomTarget(f: Figures): Draft {
  const rows = f.throughput?.rows ?? []
  const killed = [
    ...rows.filter((r) => r.oomKilled).map((r) => r.id),
    ...f.memory.filter((g) => g.oomKilled).map((g) => g.id),
  ]
  const measured = rows.length + f.memory.length > 0
  const base = {
    id: 'no-oom',
    name: 'no OOM kill at --memory 64m, under any load of the run',
    target: 'none',
    beside: '',
  }
  if (!measured) return { ...base, value: 'not measured', pass: null }
  const value = killed.length ? `OOM-killed: ${killed.join(', ')}` : 'none'
  return { ...base, value, pass: killed.length === 0, bound: 'the peaks in the memory section' }
}

function budgetTargets(f: Figures): Draft[] {
  const drafts = (['payment', 'order'] as const).map((pod) => {
    const idle = f.idle.find((x) => x.pod === pod)
    const check = {
      id: `idle-cpu-${pod}`,
      name: `${pod}: idle CPU, with the kubelet's probes`,
      target: '≤ 1 ms/s',
      ok: (v: number) => v <= 1,
      show: (v: number) => `${v} ms/s`,
    }
    const bare = f.idle.find((x) => x.pod === 'bare node:http')
    const bound = `a bare node:http pod spends ${bare?.probedCpuMsPerSecond ?? '–'} ms/s with the same probes`
    return judged(check, idle?.probedCpuMsPerSecond, idle ? `quiet ${idle.quietCpuMsPerSecond} ms/s` : '', bound)
  })
  const p = f.page
  const check = {
    id: 'page-cost',
    name: 'one open live page: order pod CPU over idle, share of its 50m',
    target: '≤ 10%',
    ok: (v: number) => v <= 0.1,
    show: pct,
  }
  const beside = p
    ? `${p.cpuMsPerSecond} ms/s (idle ${p.idleCpuMsPerSecond}), ${p.upstreamCallsPerSecond} upstream calls/s`
    : ''
  const perCall = p ? round((p.cpuMsPerSecond - p.idleCpuMsPerSecond) / p.upstreamCallsPerSecond, 3) : null
  const bareCall = f.throughput?.rows.find((r) => r.id === 'chain-new')?.capped.bare.cpuMsPerReq[0]
  const bound = p
    ? `order spends ${perCall} ms per upstream call of a spread (a new connection each; ` +
      `${p.byPanel.map((x) => `via=${x.via} ${x.msPerCall}`).join(', ')} ms alone); a bare front spends ` +
      `${bareCall ?? '–'} ms per request that makes one such call (chain-new at 0.05 cpu)`
    : null
  return [...drafts, judged(check, p?.extraShareOf50m, beside, bound)]
}

export function podTargets(f: Figures): Draft[] {
  return [...startupTargets(f), ...memoryTargets(f), ...budgetTargets(f)]
}
