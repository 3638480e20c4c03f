namespace Mirror.Silo.Cluster;

/// <summary>Cluster timing. The bounds a platform engineer reasons about are stated here and in README.md.</summary>
public static class ClusterTiming
{
    /// <summary>A silo heartbeats this often.</summary>
    public static readonly TimeSpan HeartbeatInterval = TimeSpan.FromSeconds(2);

    /// <summary>A silo silent for this long is dead: frontends stop routing to it.</summary>
    public static readonly TimeSpan SiloTimeout = TimeSpan.FromSeconds(10);

    /// <summary>A lease lasts this long past its last renewal: a killed owner's digests are free again within it.</summary>
    public static readonly TimeSpan LeaseDuration = TimeSpan.FromSeconds(10);

    /// <summary>An owner renews its leases this often.</summary>
    public static readonly TimeSpan LeaseRenewInterval = TimeSpan.FromSeconds(2);

    /// <summary>Frontends re-read the membership this often.</summary>
    public static readonly TimeSpan MembershipRefresh = TimeSpan.FromSeconds(2);

    /// <summary>The internal Frontend↔Silo contract version this build speaks; silos accept every version in <see cref="SupportedContracts"/>.</summary>
    public const int Contract = 1;

    /// <summary>Contract versions a silo of this build serves (an old frontend keeps working during an upgrade).</summary>
    public static readonly IReadOnlySet<int> SupportedContracts = new HashSet<int> { 1 };

    /// <summary>Header carrying the contract version on every internal request and response.</summary>
    public const string ContractHeader = "Mirror-Contract";
}
