namespace Mirror.Grains;

/// <summary>Manifest media types the mirror understands.</summary>
public static class MediaTypes
{
    /// <summary>Docker image manifest, schema 2.</summary>
    public const string DockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
    /// <summary>Docker manifest list (multi-arch).</summary>
    public const string DockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
    /// <summary>OCI image manifest.</summary>
    public const string OciManifest = "application/vnd.oci.image.manifest.v1+json";
    /// <summary>OCI image index (multi-arch).</summary>
    public const string OciIndex = "application/vnd.oci.image.index.v1+json";
    /// <summary>Docker schema 1, signed (legacy; passed through, never asked for by default).</summary>
    public const string DockerSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws";
    /// <summary>Docker schema 1 (legacy).</summary>
    public const string DockerSchema1 = "application/vnd.docker.distribution.manifest.v1+json";

    /// <summary>The four modern manifest types, asked of the upstream on every manifest fetch.</summary>
    public static readonly IReadOnlyList<string> All = [OciIndex, DockerManifestList, OciManifest, DockerManifest];

    /// <summary>True for the two multi-platform index types.</summary>
    public static bool IsIndex(string mediaType) => mediaType is OciIndex or DockerManifestList;

    /// <summary>
    /// True when a client's <c>Accept</c> values admit <paramref name="mediaType"/>. No Accept at all, <c>*/*</c> or
    /// <c>application/*</c> admit everything; otherwise the type must be listed (parameters such as <c>q</c> ignored).
    /// </summary>
    public static bool Accepts(IReadOnlyList<string> accept, string mediaType)
    {
        if (accept.Count == 0) return true;
        foreach (var raw in accept)
        {
            foreach (var part in raw.Split(','))
            {
                var semi = part.IndexOf(';');
                var type = (semi >= 0 ? part[..semi] : part).Trim();
                if (type.Length == 0) continue;
                if (type is "*/*" or "application/*") return true;
                if (string.Equals(type, mediaType, StringComparison.OrdinalIgnoreCase)) return true;
            }
        }
        // A client that lists only non-manifest types (browsers, curl defaults) is treated as accepting anything.
        return !accept.Any(a => a.Contains("manifest", StringComparison.OrdinalIgnoreCase) ||
                                a.Contains("image.index", StringComparison.OrdinalIgnoreCase));
    }
}
