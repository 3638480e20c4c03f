using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Mirror.Grains.Layers;
using Mirror.Grains.Manifests;
using Mirror.Grains.Storage;
using Mirror.Grains.Upstream;

namespace Mirror.Grains.Hosting;

/// <summary>Registration of the grain runtime's parts.</summary>
public static class ServiceCollectionExtensions
{
    /// <summary>
    /// Adds the grains, the upstream clients and the local fetch table. Storage backends are added separately
    /// (<see cref="AddFileSystemStorage"/>, or S3 and PostgreSQL by the silo); those already added win.
    /// </summary>
    public static IServiceCollection AddMirrorGrains(this IServiceCollection services, MirrorOptions options)
    {
        services.TryAddSingleton(options);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<MirrorMetrics>();
        services.TryAddSingleton<UpstreamRegistries>();
        services.TryAddSingleton<RepositoryAccess>();
        services.TryAddSingleton<ProcessLifetime>();
        services.TryAddSingleton(_ => SpoolDirectory.CreateClean(Path.Combine(Path.GetFullPath(options.CacheDirectory), "spool")));
        services.TryAddSingleton<IFetchGuard, LocalFetchGuard>();
        services.TryAddSingleton<FetchTable>();
        services.TryAddSingleton<KeyedLock>();
        services.TryAddSingleton<ManifestServices>();
        services.TryAddSingleton<LocalGrainFactory>();
        services.TryAddSingleton<IGrainFactory>(sp => sp.GetRequiredService<LocalGrainFactory>());
        return services;
    }

    /// <summary>Blobs, manifests and tags on the local disk under <c>Mirror:CacheDirectory</c> (the embedded default).</summary>
    public static IServiceCollection AddFileSystemStorage(this IServiceCollection services, MirrorOptions options)
    {
        var root = Path.GetFullPath(options.CacheDirectory);
        services.TryAddSingleton<IBlobStore>(_ => new FileSystemBlobStore(root));
        // This process alone writes the directory, so an in-memory copy in front of it stays exact.
        services.TryAddSingleton<IMetadataStore>(_ => new CachingMetadataStore(new FileSystemMetadataStore(root)));
        return services;
    }
}
