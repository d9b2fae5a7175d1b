// The report's shape: report.json holds exactly this, report.md and summary.md render it.
import type { Runtime } from '../config.ts'
import type { IdleFigures } from '../idle.ts'
import type { ImageFacts } from '../images.ts'
import type { GrowthFigures } from '../memory.ts'
import type { PageFigures } from '../page.ts'
import type { ProcessStartup } from '../process/startup.ts'
import type { ProcessRow } from '../process/throughput.ts'
import type { StartupFigures } from '../startup.ts'
import type { ThroughputFigures } from '../throughput.ts'

export interface Meta {
  date: string
  quick: boolean
  node: string
  cpus: number
  cpuModel: string
  nodeImage: string
  /** 1, 5 and 15 minute load averages: the cores are shared with other work. */
  loadAverageBefore: number[]
  loadAverageAfter: number[]
  durationSeconds: number
  /** Absent from reports written before it had its own setting. */
  cappedDurationSeconds?: number
  warmupSeconds: number
  connections: number
  rounds: number
  runtime: Runtime
  gitRevision: string
  benchSeconds: number
  /** Where the "before" column came from, if anywhere. */
  before: string | null
}

export interface Target {
  id: string
  name: string
  target: string
  /** The figure as shown, with its unit; 'not measured' when the part did not run. */
  value: string
  pass: boolean | null
  /** What the figure stands beside: the bare side, the pod's budget. */
  beside: string
  before: string | null
  /** For a miss: what bounds it, from this run's own figures. */
  bound: string | null
}

export interface Report {
  meta: Meta
  /** Why the container part did not run, or null. */
  skipped: string | null
  images: { base: string; baseBytes: number | null; facts: ImageFacts[] }
  throughput: ThroughputFigures | null
  startup: StartupFigures[]
  memory: GrowthFigures[]
  idle: IdleFigures[]
  page: PageFigures | null
  process: { throughput: ProcessRow[]; startup: ProcessStartup[] }
  targets: Target[]
}
