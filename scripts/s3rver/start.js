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
// to use the raw request path (still percent-encoded, query removed), as S3 does. It also adds
// AbortMultipartUpload, which 5.0.0 answers with MethodNotAllowed (see addAbortMultipartUpload).
'use strict'

const path = require('node:path')
const { AsyncLocalStorage } = require('node:async_hooks')

// s3rver 5.0.0 declares node >= 24 and its router (@koa/router 15) calls Array.prototype.toReversed
// (node 20). Debian 12's nodejs is 18.20, where every request then fails with a 500; the ES2023
// change-array-by-copy methods are all it is missing, so supply them when absent.
function polyfillChangeArrayByCopy() {
  const define = (name, fn) => {
    if (!Array.prototype[name]) {
      Object.defineProperty(Array.prototype, name, { value: fn, writable: true, configurable: true })
    }
  }
  define('toReversed', function toReversed() { return Array.from(this).reverse() })
  define('toSorted', function toSorted(compare) { return Array.from(this).sort(compare) })
  define('toSpliced', function toSpliced(...args) {
    const copy = Array.from(this)
    copy.splice(...args)
    return copy
  })
  define('with', function withAt(index, value) {
    const copy = Array.from(this)
    copy[index < 0 ? copy.length + index : index] = value
    return copy
  })
}
polyfillChangeArrayByCopy()

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

  addAbortMultipartUpload(require(path.join(lib, 'routes.js')), require(path.join(lib, 'models', 'error.js')))

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

// s3rver 5.0.0 answers AbortMultipartUpload (DELETE /bucket/key?uploadId=ID) with MethodNotAllowed.
// Wrap the object DELETE route's handler (after authentication and bucketExists have run) so that it
// removes the upload's directory like CompleteMultipartUpload does: 204, or NoSuchUpload if unknown.
function addAbortMultipartUpload(router, S3Error) {
  const layer = router.stack.find((l) => l.path === '/:bucket/*key' && l.methods.includes('DELETE'))
  if (!layer) throw new Error('s3rver routes changed: no DELETE /:bucket/*key route to patch')
  const original = layer.stack[layer.stack.length - 1]
  layer.stack[layer.stack.length - 1] = async function deleteObjectOrAbortUpload(ctx, next) {
    if (ctx.params.queryMethod !== 'uploadId') return original(ctx, next)
    const uploadId = String(ctx.query.uploadId)
    if (!/^[0-9a-f]+$/.test(uploadId)) throw new S3Error('NoSuchUpload', 'The specified upload does not exist.')
    const store = ctx.store
    const uploadDir = path.join(store.getResourcePath(ctx.params.bucket, undefined, 'uploads'), uploadId)
    const fs = require('node:fs/promises')
    try {
      await fs.access(uploadDir)
    } catch {
      throw new S3Error('NoSuchUpload', 'The specified upload does not exist. The upload ID may be invalid, ' +
        'or the upload may have been aborted or completed.', { UploadId: uploadId })
    }
    await fs.rm(uploadDir, { recursive: true, force: true })
    ctx.status = 204
  }
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : err)
  process.exit(1)
})
