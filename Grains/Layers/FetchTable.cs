using Microsoft.Extensions.Logging;
using Mirror.Grains.Storage;
using Mirror.Grains.Upstream;

namespace Mirror.Grains.Layers;

/// <summary>
/// This process's in-flight fetches, one per digest. In embedded mode this alone guarantees one upstream fetch per
/// digest; in a cluster the silo consults it only for digests whose lease it holds.
/// </summary>
public sealed class FetchTable(IBlobStore store, UpstreamRegistries upstreams, MirrorMetrics metrics, ILoggerFactory loggers,
    SpoolDirectory spool, ProcessLifetime lifetime, IFetchGuard guard)
{
    private readonly SemaphoreSlim _starting = new(1, 1);
    private volatile bool _draining;

    private readonly Dictionary<Digest, BlobFetch> _fetches = new();
    private readonly ILogger _logger = loggers.CreateLogger<BlobFetch>();

    /// <summary>The running fetch of <paramref name="digest"/>, or null. A fetch that failed is never handed out again,
    /// even in the moment between its failure and its removal from the table.</summary>
    public BlobFetch? FindOrNull(Digest digest)
    {
        lock (_fetches) return Live(digest);
    }

    private BlobFetch? Live(Digest digest) =>
        _fetches.TryGetValue(digest, out var f) && f.State != FetchState.Failed ? f : null;

    /// <summary>Fetches in progress right now.</summary>
    public int Count { get { lock (_fetches) return _fetches.Count; } }

    /// <summary>Every fetch in progress (for draining at shutdown).</summary>
    public IReadOnlyList<BlobFetch> Snapshot() { lock (_fetches) return [.. _fetches.Values]; }

    /// <summary>
    /// The running fetch of <paramref name="digest"/>, or a new one through <paramref name="source"/>. Returns null
    /// when the blob turned out to be committed meanwhile (the caller reads the store).
    /// </summary>
    public async Task<BlobFetch?> GetOrStartAsync(Digest digest, RepositoryRef source, CancellationToken cancellationToken)
    {
        lock (_fetches)
        {
            if (Live(digest) is { } running) return running;
        }
        // A fetch leaves the table only after it committed, so a store check here closes the gap between the
        // caller's own store check and the table lookup.
        if (await store.GetSizeOrNullAsync(digest, cancellationToken) is not null) return null;
        var upstream = upstreams.Get(source.Registry);
        // Starting is serialised so that a lease is taken at most once per digest per process.
        await _starting.WaitAsync(cancellationToken);
        try
        {
            lock (_fetches)
            {
                if (Live(digest) is { } running) return running;
            }
            if (_draining) throw new NotOwnerException(null, "this silo is draining and starts no new fetches");
            var lease = await guard.AcquireAsync(digest, cancellationToken);
            lock (_fetches)
            {
                var fetch = BlobFetch.Start(digest, source, upstream, store, spool.Path, _logger, metrics, lease, Remove, lifetime.Stopping);
                _fetches[digest] = fetch;
                return fetch;
            }
        }
        finally
        {
            _starting.Release();
        }
    }

    /// <summary>Stops starting new fetches (graceful shutdown); running ones continue.</summary>
    public void StopStarting() => _draining = true;

    private void Remove(BlobFetch fetch)
    {
        lock (_fetches)
        {
            if (_fetches.TryGetValue(fetch.Digest, out var current) && ReferenceEquals(current, fetch)) _fetches.Remove(fetch.Digest);
        }
    }
}

/// <summary>The local directory for spool files: every fetch writes one; followers read it while it grows.</summary>
public sealed record SpoolDirectory(string Path)
{
    /// <summary>Creates the directory and removes spool files a previous run left behind (nothing in them was committed).</summary>
    public static SpoolDirectory CreateClean(string path)
    {
        Directory.CreateDirectory(path);
        foreach (var stale in Directory.EnumerateFiles(path))
        {
            try { File.Delete(stale); } catch (IOException) { }
        }
        return new SpoolDirectory(path);
    }
}

/// <summary>A token cancelled when the process stops for good (after draining), ending background fetches.</summary>
public sealed class ProcessLifetime : IDisposable
{
    private readonly CancellationTokenSource _cts = new();

    /// <summary>Cancelled at the very end of shutdown.</summary>
    public CancellationToken Stopping => _cts.Token;

    /// <summary>Cancels every background fetch.</summary>
    public void Stop() => _cts.Cancel();

    /// <inheritdoc />
    public void Dispose() => _cts.Dispose();
}
