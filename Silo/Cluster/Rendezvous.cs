using System.Text;

namespace Mirror.Silo.Cluster;

/// <summary>A live silo as the membership table lists it.</summary>
public sealed record SiloInfo(string Id, string Address, int Contract);

/// <summary>Rendezvous (highest random weight) hashing: every frontend orders the silos the same way for a key.</summary>
public static class Rendezvous
{
    /// <summary>The silos ordered by preference for <paramref name="key"/>: the first is the likely owner.</summary>
    public static IReadOnlyList<SiloInfo> Order(string key, IReadOnlyList<SiloInfo> silos) =>
        [.. silos.OrderByDescending(s => Score(s.Id, key)).ThenBy(s => s.Id, StringComparer.Ordinal)];

    /// <summary>A well-mixed 64-bit score of (silo, key): FNV-1a over both, then the murmur3 finaliser.</summary>
    public static ulong Score(string siloId, string key)
    {
        var h = 14695981039346656037UL;
        foreach (var b in Encoding.UTF8.GetBytes(siloId)) { h ^= b; h *= 1099511628211UL; }
        h ^= 0xff; h *= 1099511628211UL;
        foreach (var b in Encoding.UTF8.GetBytes(key)) { h ^= b; h *= 1099511628211UL; }
        h ^= h >> 33; h *= 0xff51afd7ed558ccdUL; h ^= h >> 33; h *= 0xc4ceb9fe1a85ec53UL; h ^= h >> 33;
        return h;
    }
}
