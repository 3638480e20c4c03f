namespace Mirror.Grains.Storage;

/// <summary>What a tag resolved to, and when the upstream last confirmed it.</summary>
/// <param name="Digest">The manifest digest the tag pointed at.</param>
/// <param name="MediaType">That manifest's media type.</param>
/// <param name="ValidatedAt">When the upstream last confirmed the answer (GET or HEAD).</param>
public sealed record TagRecord(Digest Digest, string MediaType, DateTimeOffset ValidatedAt);

/// <summary>Manifests by digest (immutable) and tag answers (mutable, with a validation time).</summary>
public interface IMetadataStore
{
    /// <summary>A stored manifest, or null.</summary>
    Task<ManifestContent?> GetManifestOrNullAsync(Digest digest, CancellationToken cancellationToken);

    /// <summary>Stores a manifest whose digest the caller verified.</summary>
    Task PutManifestAsync(ManifestContent manifest, CancellationToken cancellationToken);

    /// <summary>The last good answer for a tag, or null.</summary>
    Task<TagRecord?> GetTagOrNullAsync(RepositoryRef repository, string tag, CancellationToken cancellationToken);

    /// <summary>Records the answer for a tag.</summary>
    Task PutTagAsync(RepositoryRef repository, string tag, TagRecord record, CancellationToken cancellationToken);

    /// <summary>Forgets a tag (the upstream said it no longer exists).</summary>
    Task DeleteTagAsync(RepositoryRef repository, string tag, CancellationToken cancellationToken);
}
