namespace Mirror.IntegrationTests.Infrastructure;

/// <summary>Manifest flavour of a pushed image.</summary>
public enum ManifestFormat
{
    /// <summary>Docker image manifest v2 schema 2 (and Docker manifest lists).</summary>
    Docker,

    /// <summary>OCI image manifest (and OCI image indexes).</summary>
    Oci,
}

/// <summary>OCI and Docker media types used by the fixtures.</summary>
public static class MediaTypes
{
    /// <summary>Docker v2s2 image manifest.</summary>
    public const string DockerManifest = "application/vnd.docker.distribution.manifest.v2+json";

    /// <summary>Docker manifest list.</summary>
    public const string DockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";

    /// <summary>Docker image config.</summary>
    public const string DockerConfig = "application/vnd.docker.container.image.v1+json";

    /// <summary>Docker gzip layer.</summary>
    public const string DockerLayer = "application/vnd.docker.image.rootfs.diff.tar.gzip";

    /// <summary>OCI image manifest.</summary>
    public const string OciManifest = "application/vnd.oci.image.manifest.v1+json";

    /// <summary>OCI image index.</summary>
    public const string OciIndex = "application/vnd.oci.image.index.v1+json";

    /// <summary>OCI image config.</summary>
    public const string OciConfig = "application/vnd.oci.image.config.v1+json";

    /// <summary>OCI gzip layer.</summary>
    public const string OciLayer = "application/vnd.oci.image.layer.v1.tar+gzip";
}

/// <summary>A blob that was pushed, with a local copy of its bytes.</summary>
/// <param name="Digest">"sha256:hex" of the blob.</param>
/// <param name="Size">Size in bytes.</param>
/// <param name="MediaType">Media type in the manifest's descriptor.</param>
/// <param name="LocalPath">A file with the exact bytes (shared cache: read, do not modify).</param>
/// <param name="DiffId">For layers, sha256 of the uncompressed tar; null for the config.</param>
public sealed record PushedBlob(string Digest, long Size, string MediaType, string LocalPath, string? DiffId = null);

/// <summary>An image manifest that was pushed, with everything it references.</summary>
/// <param name="Repository">Repository name, e.g. "library/app".</param>
/// <param name="Tag">Tag it was pushed under, or null for an index's child pushed by digest.</param>
/// <param name="Digest">"sha256:hex" of <see cref="ManifestBytes"/>.</param>
/// <param name="MediaType">The manifest's media type.</param>
/// <param name="ManifestBytes">The exact manifest bytes pushed.</param>
/// <param name="Os">Platform OS, e.g. "linux".</param>
/// <param name="Architecture">Platform architecture, e.g. "amd64".</param>
/// <param name="Config">The image config blob.</param>
/// <param name="Layers">The layer blobs, base first.</param>
public sealed record PushedImage(string Repository, string? Tag, string Digest, string MediaType, byte[] ManifestBytes,
    string Os, string Architecture, PushedBlob Config, IReadOnlyList<PushedBlob> Layers)
{
    /// <summary>Config then layers.</summary>
    public IReadOnlyList<PushedBlob> Blobs => [Config, .. Layers];

    /// <summary>"repository:tag", or "repository@digest" when pushed without a tag.</summary>
    public string Reference => Tag is null ? $"{Repository}@{Digest}" : $"{Repository}:{Tag}";
}

/// <summary>A Docker manifest list or OCI index that was pushed, with its per-platform children.</summary>
/// <param name="Repository">Repository name.</param>
/// <param name="Tag">Tag of the index.</param>
/// <param name="Digest">"sha256:hex" of <see cref="ManifestBytes"/>.</param>
/// <param name="MediaType">The index's media type.</param>
/// <param name="ManifestBytes">The exact index bytes pushed.</param>
/// <param name="Children">The per-platform image manifests, in index order.</param>
public sealed record PushedIndex(string Repository, string Tag, string Digest, string MediaType, byte[] ManifestBytes,
    IReadOnlyList<PushedImage> Children)
{
    /// <summary>"repository:tag".</summary>
    public string Reference => $"{Repository}:{Tag}";
}
