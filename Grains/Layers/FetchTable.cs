using Microsoft.Extensions.Logging;
using Mirror.Grains.Storage;
using Mirror.Grains.Upstream;

namespace Mirror.Grains.Layers;

/// <summary>
/// This process's in-flight fetches, one per digest. In embedded mode this alone guarantees one upstream fetch per
/// digest; in a cluster the silo consults it only for digests whose lease it holds.
/// </summary>
public sealed class FetchTable(IBlobStore store, UpstreamRegistries upstreams, MirrorMetrics metrics, ILoggerFactory loggers,
    SpoolDirectory spool, ProcessLifetime lifetime)
{
    private readonly Dictionary<Digest, BlobFetch> _fetches = new();
    private readonly ILogger _logger = loggers.CreateLogger<BlobFetch>();

    /// <summary>The running fetch of <paramref name="digest"/>, or null.</summary>
    public BlobFetch? FindOrNull(Digest digest)
    {
        lock (_fetches) return _fetches.GetValueOrDefault(digest);
    }

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
            if (_fetches.TryGetValue(digest, out var running)) return running;
        }
        // A fetch leaves the table only after it committed, so a store check here closes the gap between the
        // caller's own store check and the table lookup.
        if (await store.GetSizeOrNullAsync(digest, cancellationToken) is not null) return null;
        var upstream = upstreams.Get(source.Registry);
        lock (_fetches)
        {
            if (_fetches.TryGetValue(digest, out var running)) return running;
            var fetch = BlobFetch.Start(digest, source, upstream, store, spool.Path, _logger, metrics, Remove, lifetime.Stopping);
            _fetches[digest] = fetch;
            return fetch;
        }
    }

    private void Remove(BlobFetch fetch)
    {
        lock (_fetches)
        {
            if (_fetches.TryGetValue(fetch.Digest, out var current) && ReferenceEquals(current, fetch)) _fetches.Remove(fetch.Digest);
        }
    }
}

/// <summary>The local directory for spool files of fetches whose store does not adopt them.</summary>
public sealed record SpoolDirectory(string Path);

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
