namespace Mirror.Grains;

/// <summary>A repository at one upstream registry, e.g. <c>docker.io</c> + <c>library/alpine</c>.</summary>
/// <param name="Registry">The registry's canonical name as configured (<c>docker.io</c>, <c>ghcr.io</c>, ...).</param>
/// <param name="Repository">The repository path at that registry, validated against the spec's grammar.</param>
public sealed record RepositoryRef(string Registry, string Repository)
{
    /// <inheritdoc />
    public override string ToString() => $"{Registry}/{Repository}";
}

/// <summary>A manifest reference: a tag or a digest within a repository.</summary>
public sealed record ManifestRef(RepositoryRef Repository, string Reference)
{
    /// <summary>The digest, when the reference is one.</summary>
    public Digest? Digest => Grains.Digest.TryParse(Reference, out var d) ? d : null;

    /// <summary>True when the reference is a tag (mutable) rather than a digest.</summary>
    public bool IsTag => Digest is null;

    /// <inheritdoc />
    public override string ToString() => IsTag ? $"{Repository}:{Reference}" : $"{Repository}@{Reference}";
}
