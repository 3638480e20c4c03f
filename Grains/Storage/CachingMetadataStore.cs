using System.Collections.Concurrent;

namespace Mirror.Grains.Storage;

/// <summary>
/// A bounded in-memory copy of a metadata store that this process alone writes (the embedded disk cache): manifests
/// by digest (immutable) and tag records (written through). A warm tag GET then reads no file at all; before this,
/// each one read the tag's JSON and the manifest's file.
/// </summary>
/// <remarks>
/// Not for a store shared between processes (PostgreSQL): another silo's write would not be seen here. When a bound is
/// reached that part of the cache is emptied and refills from the store: no bookkeeping on the hot path, and the
/// bounds are far above what a mirror's working set of tags holds.
/// </remarks>
public sealed class CachingMetadataStore(IMetadataStore inner) : IMetadataStore
{
    /// <summary>Most manifest bytes kept in memory (manifests are a few KiB; an index up to 4 MiB).</summary>
    public const long MaxManifestBytes = 32L << 20;

    /// <summary>Most tag records kept in memory (about 200 bytes each).</summary>
    public const int MaxTags = 50_000;

    private readonly ConcurrentDictionary<Digest, ManifestContent> _manifests = new();
    private readonly ConcurrentDictionary<(RepositoryRef, string), TagRecord> _tags = new();
    private long _manifestBytes;

    /// <inheritdoc />
    public async Task<ManifestContent?> GetManifestOrNullAsync(Digest digest, CancellationToken cancellationToken)
    {
        if (_manifests.TryGetValue(digest, out var cached)) return cached;
        var manifest = await inner.GetManifestOrNullAsync(digest, cancellationToken);
        if (manifest is not null) Remember(manifest);
        return manifest;
    }

    /// <inheritdoc />
    public async Task PutManifestAsync(ManifestContent manifest, CancellationToken cancellationToken)
    {
        await inner.PutManifestAsync(manifest, cancellationToken);
        Remember(manifest);
    }

    /// <inheritdoc />
    public async Task<TagRecord?> GetTagOrNullAsync(RepositoryRef repository, string tag, CancellationToken cancellationToken)
    {
        if (_tags.TryGetValue((repository, tag), out var cached)) return cached;
        var record = await inner.GetTagOrNullAsync(repository, tag, cancellationToken);
        // A write that raced this read wins: keep the record validated last.
        if (record is not null) RememberTag(repository, tag, record, (_, existing) => existing.ValidatedAt >= record.ValidatedAt ? existing : record);
        return record;
    }

    /// <inheritdoc />
    public async Task PutTagAsync(RepositoryRef repository, string tag, TagRecord record, CancellationToken cancellationToken)
    {
        await inner.PutTagAsync(repository, tag, record, cancellationToken);
        RememberTag(repository, tag, record, (_, _) => record);
    }

    /// <inheritdoc />
    public async Task DeleteTagAsync(RepositoryRef repository, string tag, CancellationToken cancellationToken)
    {
        _tags.TryRemove((repository, tag), out _);
        await inner.DeleteTagAsync(repository, tag, cancellationToken);
        _tags.TryRemove((repository, tag), out _);
    }

    private void Remember(ManifestContent manifest)
    {
        if (Interlocked.Read(ref _manifestBytes) + manifest.Bytes.Length > MaxManifestBytes)
        {
            _manifests.Clear();
            Interlocked.Exchange(ref _manifestBytes, 0);
        }
        if (_manifests.TryAdd(manifest.Digest, manifest)) Interlocked.Add(ref _manifestBytes, manifest.Bytes.Length);
    }

    private void RememberTag(RepositoryRef repository, string tag, TagRecord record, Func<(RepositoryRef, string), TagRecord, TagRecord> update)
    {
        if (_tags.Count >= MaxTags) _tags.Clear();
        _tags.AddOrUpdate((repository, tag), record, update);
    }
}
