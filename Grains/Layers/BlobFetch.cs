using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;
using Mirror.Grains.Storage;
using Mirror.Grains.Upstream;

namespace Mirror.Grains.Layers;

/// <summary>
/// The one upstream fetch of one blob: bytes are hashed, written to a spool file that any number of readers follow
/// from any offset while it grows, and handed to the blob store, which commits them only once verified.
/// </summary>
/// <remarks>
/// <list type="number">
/// <item>GET the blob through the requesting repository; its Content-Length is the size every reader is promised.</item>
/// <item>Open the store's writer and the spool; announce the size (readers may start).</item>
/// <item>Copy: each chunk is hashed, written to the spool (which the store adopts or uploads parts from), then
/// published by advancing <see cref="Written"/> and waking readers. A broken upstream body is resumed with a Range
/// request from the last byte received (the bytes stay one stream for the hash).</item>
/// <item>Verify size and digest. Until then readers never see the last byte, so a client can never take a corrupt or
/// short body for a complete one: on failure their reads throw and the HTTP layer aborts the connection.</item>
/// <item>Commit to the store; only then does the fetch leave the table, so no request falls between the two.</item>
/// </list>
/// The fetch is bound to the process's lifetime, not to any client: a client that hangs up does not stop it.
/// </remarks>
public sealed partial class BlobFetch
{
    /// <summary>
    /// Copy buffer size: 64 KiB. bench/run.sh --systems embedded, CPU of the mirror for a cold 1 GiB pull: 64 KiB 3.2 s,
    /// 256 KiB 2.5 and 3.1 s, 1 MiB 3.0 and 2.9 s: no gain from bigger reads, so followers keep one spool write per read.
    /// </summary>
    internal const int ChunkSize = 64 * 1024;
    private const int MaxResumes = 3;

    private readonly UpstreamRegistry _upstream;
    private readonly IBlobStore _store;
    private readonly string _spoolDirectory;
    private readonly ILogger _logger;
    private readonly MirrorMetrics _metrics;
    private readonly TaskCompletionSource<BlobInfo?> _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _progress = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _written;
    private volatile FetchState _state;
    private Exception? _failure;
    private SpoolHandle? _spool;
    private readonly IFetchLease _lease;

    private BlobFetch(Digest digest, RepositoryRef source, UpstreamRegistry upstream, IBlobStore store, string spoolDirectory,
        ILogger logger, MirrorMetrics metrics, IFetchLease lease)
    {
        _lease = lease;
        Digest = digest;
        Source = source;
        _upstream = upstream;
        _store = store;
        _spoolDirectory = spoolDirectory;
        _logger = logger;
        _metrics = metrics;
    }

    /// <summary>The blob being fetched.</summary>
    public Digest Digest { get; }

    /// <summary>The repository the fetch goes through (the upstream decided access for it).</summary>
    public RepositoryRef Source { get; }

    /// <summary>Completes with the blob's size once the upstream answered, or null when the upstream does not know it.</summary>
    public Task<BlobInfo?> Started => _started.Task;

    /// <summary>Completes when the fetch has committed or failed.</summary>
    public Task Finished => _finished.Task;

    /// <summary>Bytes received, hashed and spooled so far.</summary>
    public long Written => Interlocked.Read(ref _written);

    /// <summary>Where the fetch is.</summary>
    public FetchState State => _state;

    /// <summary>Starts the fetch in the background; <paramref name="onFinished"/> runs once it has committed or failed.</summary>
    public static BlobFetch Start(Digest digest, RepositoryRef source, UpstreamRegistry upstream, IBlobStore store,
        string spoolDirectory, ILogger logger, MirrorMetrics metrics, IFetchLease lease, Action<BlobFetch> onFinished, CancellationToken lifetime)
    {
        var fetch = new BlobFetch(digest, source, upstream, store, spoolDirectory, logger, metrics, lease);
        _ = Task.Run(async () =>
        {
            using var bound = CancellationTokenSource.CreateLinkedTokenSource(lifetime, lease.Lost);
            try { await fetch.RunAsync(bound.Token); }
            finally
            {
                onFinished(fetch);
                await lease.DisposeAsync();
                fetch._finished.TrySetResult();
            }
        }, CancellationToken.None);
        return fetch;
    }

    /// <summary>A reader of the blob from <paramref name="offset"/> that waits for bytes as they arrive.</summary>
    public Stream OpenReader(long offset)
    {
        var info = Started.IsCompletedSuccessfully ? Started.Result : null;
        if (info is null) throw new InvalidOperationException("the fetch has not started");
        if (Failure is { } failure) throw new IOException($"fetch of {Digest} failed: {failure.Message}", failure);
        var spool = _spool?.TryAddRef() ?? throw new IOException($"fetch of {Digest} failed");
        return new SpoolReader(this, spool, offset, info.Length);
    }

    private async Task RunAsync(CancellationToken lifetime)
    {
        IBlobWriter? writer = null;
        string? spoolPath = null;
        try
        {
            // Step 1.
            _metrics.Add("mirror_upstream_requests_total", $"{MirrorMetrics.Label("registry", _upstream.Name)},kind=\"blob_get\"");
            var response = await _upstream.SendAsync(HttpMethod.Get, Source.Repository, $"blobs/{Digest}", null, null, lifetime);
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                response.Dispose();
                _started.TrySetResult(null);
                _state = FetchState.Failed;
                return;
            }
            if (!response.IsSuccessStatusCode)
            {
                using (response) throw await UpstreamRegistry.ToErrorAsync(response, ErrorCode.BlobUnknown, lifetime);
            }
            // A chunked body (no Content-Length) still needs a size to promise readers: ask with a HEAD.
            var length = response.Content.Headers.ContentLength ?? await SizeFromHeadAsync(lifetime)
                ?? throw new RegistryException(ErrorCode.BadGateway, $"upstream sent {Digest} without a Content-Length");

            // Step 2.
            Directory.CreateDirectory(_spoolDirectory);
            spoolPath = Path.Combine(_spoolDirectory, $"{Digest.Hex}.{Guid.NewGuid():N}");
            writer = await _store.BeginWriteAsync(Digest, length, spoolPath, lifetime);
            // Synchronous handles: the spool is written and read back through the page cache, where a pwrite or pread is a
            // memcpy; an asynchronous handle costs a thread-pool hop per 64 KiB chunk on both sides.
            using var writeHandle = File.OpenHandle(spoolPath, FileMode.CreateNew, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
            _spool = new SpoolHandle(File.OpenHandle(spoolPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete));
            _started.TrySetResult(new BlobInfo(Digest, length));

            // Step 3.
            using var hash = IncrementalHash.CreateHash(Digest.Algorithm == "sha512" ? HashAlgorithmName.SHA512 : HashAlgorithmName.SHA256);
            var buffer = new byte[ChunkSize];
            var resumes = 0;
            var body = await response.Content.ReadAsStreamAsync(lifetime);
            try
            {
                using var idle = CancellationTokenSource.CreateLinkedTokenSource(lifetime);
                while (true)
                {
                    int n;
                    try
                    {
                        idle.CancelAfter(_upstream.IdleTimeout);
                        n = await body.ReadAsync(buffer, idle.Token);
                    }
                    catch (Exception e) when (e is IOException or HttpRequestException
                                               || (e is OperationCanceledException && !lifetime.IsCancellationRequested))
                    {
                        if (resumes++ >= MaxResumes || Written >= length) throw new IOException($"upstream body broke at {Written} of {length}: {e.Message}", e);
                        LogResume(_logger, Digest, Written, e.Message);
                        await body.DisposeAsync();
                        response.Dispose();
                        (response, body) = await ResumeAsync(Written, length, lifetime);
                        continue;
                    }
                    if (n == 0) break;
                    if (Written + n > length) throw new IOException($"upstream sent more than the {length} bytes it announced");
                    var chunk = buffer.AsMemory(0, n);
                    hash.AppendData(chunk.Span);
                    RandomAccess.Write(writeHandle, chunk.Span, Written);
                    Interlocked.Add(ref _written, n);
                    Publish();
                    await writer.OnSpoolAdvancedAsync(Written, lifetime);
                }
            }
            finally
            {
                await body.DisposeAsync();
                response.Dispose();
            }

            // Step 4.
            if (Written != length) throw new IOException($"upstream body ended at {Written} of {length} bytes");
            var actual = Digest.FromHash(Digest.Algorithm, hash.GetHashAndReset());
            if (actual != Digest) throw new DigestMismatchException($"upstream bytes hash to {actual}, not {Digest}");
            _state = FetchState.Verified;
            Publish();

            // Step 5: a stale owner (lease lost or taken over at a later epoch) must not commit.
            await _lease.EnsureHeldAsync(lifetime);
            await writer.CommitAsync(length, lifetime);
            _state = FetchState.Committed;
            _metrics.Add("mirror_blob_commits_total");
            _metrics.Add("mirror_upstream_bytes_total", MirrorMetrics.Label("registry", _upstream.Name), length);
            LogCommitted(_logger, Digest, length);
        }
        catch (Exception e)
        {
            var wasVerified = _state == FetchState.Verified;
            _failure = e;
            if (!wasVerified) _state = FetchState.Failed;
            _started.TrySetException(e is RegistryException ? e : new RegistryException(ErrorCode.BadGateway, e.Message, inner: e));
            Publish();
            _metrics.Add("mirror_blob_fetch_failures_total", MirrorMetrics.Label("reason", e.GetType().Name));
            LogFailed(_logger, Digest, Written, e.Message);
        }
        finally
        {
            if (writer is not null) await writer.DisposeAsync(); // aborts an uncommitted write
            if (spoolPath is not null) { try { File.Delete(spoolPath); } catch (IOException) { } }
            _spool?.Release();
        }
    }

    private async Task<long?> SizeFromHeadAsync(CancellationToken ct)
    {
        _metrics.Add("mirror_upstream_requests_total", $"{MirrorMetrics.Label("registry", _upstream.Name)},kind=\"blob_head\"");
        using var head = await _upstream.SendAsync(HttpMethod.Head, Source.Repository, $"blobs/{Digest}", null, null, ct);
        return head.IsSuccessStatusCode ? head.Content.Headers.ContentLength : null;
    }

    private async Task<(HttpResponseMessage, Stream)> ResumeAsync(long from, long length, CancellationToken ct)
    {
        _metrics.Add("mirror_upstream_requests_total", $"{MirrorMetrics.Label("registry", _upstream.Name)},kind=\"blob_resume\"");
        var response = await _upstream.SendAsync(HttpMethod.Get, Source.Repository, $"blobs/{Digest}", null, new RangeHeaderValue(from, null), ct);
        var range = response.Content.Headers.ContentRange;
        if (response.StatusCode != HttpStatusCode.PartialContent || range?.From != from || (range.Length is { } total && total != length))
        {
            response.Dispose();
            throw new IOException($"upstream could not resume {Digest} at {from}");
        }
        return (response, await response.Content.ReadAsStreamAsync(ct));
    }

    private void Publish() => Interlocked.Exchange(ref _progress, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    /// <summary>
    /// How many bytes a reader may see. The last byte stays hidden until the digest is verified, so a reader cannot
    /// reach a clean end of a body that later turns out wrong.
    /// </summary>
    internal long Visible(long length) => _state is FetchState.Verified or FetchState.Committed ? Written : Math.Min(Written, length - 1);

    internal Exception? Failure => _state == FetchState.Failed ? _failure ?? new IOException("fetch failed") : null;

    internal Task NextProgress => Volatile.Read(ref _progress).Task;

    [LoggerMessage(Level = LogLevel.Information, Message = "Committed blob {Digest} ({Length} bytes)")]
    private static partial void LogCommitted(ILogger logger, Digest digest, long length);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Fetch of {Digest} failed after {Written} bytes, nothing stored: {Reason}")]
    private static partial void LogFailed(ILogger logger, Digest digest, long written, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Upstream body of {Digest} broke at {Written} bytes; resuming with a Range request: {Reason}")]
    private static partial void LogResume(ILogger logger, Digest digest, long written, string reason);
}

/// <summary>Where a fetch is.</summary>
public enum FetchState
{
    /// <summary>Bytes are arriving.</summary>
    Running,
    /// <summary>Size and digest matched; readers may reach the end.</summary>
    Verified,
    /// <summary>In the store.</summary>
    Committed,
    /// <summary>Broken, short, or not matching its digest: nothing stored, readers fail.</summary>
    Failed,
}

/// <summary>The upstream's bytes did not hash to the digest they were asked for.</summary>
public sealed class DigestMismatchException(string message) : IOException(message);

/// <summary>The spool's read handle, closed once the fetch and every reader are done with it.</summary>
internal sealed class SpoolHandle(SafeFileHandle handle)
{
    private int _refs = 1;

    public SafeFileHandle Handle => handle;

    public SpoolHandle? TryAddRef()
    {
        while (true)
        {
            var r = Volatile.Read(ref _refs);
            if (r == 0) return null;
            if (Interlocked.CompareExchange(ref _refs, r + 1, r) == r) return this;
        }
    }

    public void Release()
    {
        if (Interlocked.Decrement(ref _refs) == 0) handle.Dispose();
    }
}

/// <summary>Reads a growing spool from an offset, waiting for the fetch to publish more bytes.</summary>
internal sealed class SpoolReader(BlobFetch fetch, SpoolHandle spool, long start, long length) : ReadOnlyStream
{
    private readonly long _start = start;
    private long _position = start;
    private int _disposed;

    public override long Length => length - _start;
    public override long Position { get => _position - _start; set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.Length == 0) return 0;
        while (true)
        {
            // Take the signal before reading the state: a publish after this point completes it.
            var progress = fetch.NextProgress;
            if (fetch.Failure is { } failure) throw new IOException($"fetch of {fetch.Digest} failed: {failure.Message}", failure);
            var visible = fetch.Visible(length);
            if (_position < visible)
            {
                var want = (int)Math.Min(buffer.Length, visible - _position);
                var n = RandomAccess.Read(spool.Handle, buffer.Span[..want], _position);
                if (n == 0) throw new IOException("spool shorter than published");
                _position += n;
                return n;
            }
            if (_position >= length && fetch.State is FetchState.Verified or FetchState.Committed) return 0;
            await progress.WaitAsync(cancellationToken);
        }
    }


    protected override void Dispose(bool disposing)
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0) spool.Release();
        base.Dispose(disposing);
    }
}
