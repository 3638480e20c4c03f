#!/usr/bin/env node
// Starts @20minutes/s3rver 5.0.0 (installed by scripts/install-deps.sh) for the integration tests.
//
//   node start.js --directory DIR [--address 127.0.0.1] [--port 0] [--bucket NAME]... [--home INSTALL_DIR]
//
// Prints "S3rver listening on ADDRESS:PORT" once it accepts connections.
//
// Why this script and not lib/cli.js: the tarball ships no bin/, and s3rver rebuilds the SigV4
// canonical URI from the parsed route ("/bucket"), while the .NET AWS SDK signs bucket-level requests
// with a trailing slash ("/bucket/"), so every PutBucket/ListObjectsV2/... from AWSSDK.S3 fails with
// SignatureDoesNotMatch. Real S3 signs over the path exactly as sent, so we patch v4.getStringToSign
// to use the raw request path (still percent-encoded, query removed), as S3 does.
'use strict'

const path = require('node:path')
const { AsyncLocalStorage } = require('node:async_hooks')

function parseArgs(argv) {
  const opts = {
    home: process.env.MIRROR_S3RVER_HOME || '/opt/mirror-test/s3rver',
    address: '127.0.0.1',
    port: 0,
    directory: undefined,
    buckets: [],
  }
  for (let i = 0; i < argv.length; i++) {
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`missing value for ${argv[i]}`)
      return argv[++i]
    }
    switch (argv[i]) {
      case '--home': opts.home = value(); break
      case '--address': opts.address = value(); break
      case '--port': opts.port = Number(value()); break
      case '--directory': opts.directory = value(); break
      case '--bucket': opts.buckets.push(value()); break
      default: throw new Error(`unknown argument ${argv[i]}`)
    }
  }
  if (!opts.directory) throw new Error('--directory is required')
  return opts
}

async function main() {
  const opts = parseArgs(process.argv.slice(2))
  const lib = path.join(opts.home, 'node_modules', '@20minutes', 's3rver', 'lib')
  const S3rver = require(path.join(lib, 's3rver.js'))
  const v4 = require(path.join(lib, 'signature', 'v4.js'))

  // The raw path of the request being authenticated; authentication.js calls v4.getStringToSign
  // through the module object, so replacing the export is enough.
  const rawPath = new AsyncLocalStorage()
  const getStringToSign = v4.getStringToSign
  v4.getStringToSign = (canonicalRequest, request) => {
    const raw = rawPath.getStore()
    return getStringToSign(raw ? { ...canonicalRequest, uri: raw } : canonicalRequest, request)
  }

  const server = new S3rver({
    address: opts.address,
    port: opts.port,
    directory: opts.directory,
    silent: false,
    configureBuckets: opts.buckets.map((name) => ({ name, configs: [] })),
  })
  // First middleware: remember the path as the client sent it for the rest of this request.
  server.middleware.unshift((ctx, next) => rawPath.run(ctx.req.url.split('?')[0], next))

  const { address, port } = await server.run()
  console.info('S3rver listening on %s:%d', address, port)

  const stop = () => server.close(() => process.exit(0))
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : err)
  process.exit(1)
})
