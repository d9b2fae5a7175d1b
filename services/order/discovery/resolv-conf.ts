import type { ResolvConf } from '../schemas.ts'

/** The parts of /etc/resolv.conf that decide how a short name is searched. */
export function parseResolvConf(text: string): ResolvConf {
  const conf: ResolvConf = { nameservers: [], search: [], ndots: null }
  for (const line of text.split('\n')) {
    const [keyword, ...values] = line.trim().split(/\s+/)
    if (keyword === 'nameserver' && values[0]) conf.nameservers.push(values[0])
    if (keyword === 'search' || keyword === 'domain') conf.search = values
    if (keyword === 'options') {
      const ndots = values.find((option) => option.startsWith('ndots:'))
      if (ndots) conf.ndots = Number(ndots.slice('ndots:'.length))
    }
  }
  return conf
}
