import { describe, expect, it } from 'vitest'
import { CommonConfig, ConfigError, readConfig } from '../../../services/shared/config.ts'

const read = (env: NodeJS.ProcessEnv) => readConfig(CommonConfig, env)

describe('readConfig', () => {
  it('when nothing is set, then every setting has its default', () => {
    const config = read({})

    expect(config).toEqual({
      PORT: 8080,
      HOST: '0.0.0.0',
      PROBE_PORT: 8081,
      LOG_LEVEL: 'info',
      SHUTDOWN_DRAIN_SECONDS: 5,
      SHUTDOWN_TIMEOUT_SECONDS: 20,
      DRAIN_READINESS: 'serving',
      FAULTS: 'off',
      STARTUP_DELAY_SECONDS: 0,
      ALLOWED_HOSTS: '',
      CLUSTER_DOMAIN: 'cluster.local',
    })
  })

  it('when settings are set, then their text becomes the number or word the setting is', () => {
    const env = {
      PORT: '9090',
      SHUTDOWN_DRAIN_SECONDS: '1.5',
      LOG_LEVEL: 'debug',
      FAULTS: 'on',
      SERVICE_NAME: 'delivery',
    }

    const config = read(env)

    expect(config).toMatchObject({
      PORT: 9090,
      SHUTDOWN_DRAIN_SECONDS: 1.5,
      LOG_LEVEL: 'debug',
      FAULTS: 'on',
      SERVICE_NAME: 'delivery',
    })
  })

  it('when a setting is set to an empty value, then it is ignored and the default applies', () => {
    const config = read({ PORT: '', LOG_LEVEL: '', SERVICE_NAME: '' })

    expect(config).toMatchObject({ PORT: 8080, LOG_LEVEL: 'info' })
    expect(config).not.toHaveProperty('SERVICE_NAME')
  })

  it('when the environment holds variables no setting names, then they are left out', () => {
    const config = read({ PATH: '/usr/bin', HOME: '/home/node', KUBERNETES_SERVICE_HOST: '10.96.0.1' })

    expect(Object.keys(config).sort()).toEqual(
      Object.keys(CommonConfig.properties)
        .filter((key) => key !== 'SERVICE_NAME')
        .sort(),
    )
  })

  it.each([
    [{ PORT: 'eighty' }, 'invalid configuration: PORT must be integer'],
    [{ PORT: '99999' }, 'invalid configuration: PORT must be <= 65535'],
    [{ SHUTDOWN_TIMEOUT_SECONDS: '0' }, 'invalid configuration: SHUTDOWN_TIMEOUT_SECONDS must be >= 1'],
    [{ SHUTDOWN_DRAIN_SECONDS: 'Infinity' }, 'invalid configuration: SHUTDOWN_DRAIN_SECONDS must be number'],
    [{ SERVICE_NAME: 'Payment_1' }, 'invalid configuration: SERVICE_NAME must match pattern'],
    [
      { LOG_LEVEL: 'loud' },
      'invalid configuration: LOG_LEVEL must be equal to one of the allowed values (fatal, error, warn, info, debug, trace, silent)',
    ],
    [{ FAULTS: 'true' }, 'invalid configuration: FAULTS must be equal to one of the allowed values (on, off)'],
    [{ ALLOWED_HOSTS: 'shop.example.com:443' }, 'invalid configuration: ALLOWED_HOSTS must match pattern'],
  ])('when the environment has %j, then a ConfigError says "%s"', (env, message) => {
    const reading = () => read(env)

    expect(reading).toThrow(ConfigError)
    expect(reading).toThrow(message)
  })

  // TypeBox's own Convert would turn `true` into 1 and truncate 80.9 to 80: a service on a port nobody set.
  it.each([[{ PORT: 'true' }], [{ PORT: '80.9' }]])(
    'when the environment has %j, then start-up fails naming PORT instead of listening on another port',
    (env) => {
      expect(() => read(env)).toThrow('invalid configuration: PORT must be integer')
    },
  )
})
