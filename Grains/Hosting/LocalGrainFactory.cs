using Mirror.Grains.Layers;
using Mirror.Grains.Manifests;
using Mirror.Grains.Storage;
using Mirror.Grains.Upstream;

namespace Mirror.Grains.Hosting;

/// <summary>Activates grains in this process. Embedded mode uses it for everything; a silo uses it for the grains it owns.</summary>
public sealed class LocalGrainFactory(IBlobStore store, FetchTable fetches, RepositoryAccess access, UpstreamRegistries upstreams,
    MirrorMetrics metrics, ManifestServices manifests) : IGrainFactory
{
    /// <inheritdoc />
    public ILayerGrain GetLayer(Digest digest) => new LayerGrain(digest, store, fetches, access, upstreams, metrics);

    /// <inheritdoc />
    public IManifestGrain GetManifest(ManifestRef reference) => new ManifestGrain(reference, manifests);

    /// <inheritdoc />
    public IRepositoryGrain GetRepository(RepositoryRef repository) => new RepositoryGrain(repository, upstreams, metrics);
}
