using System.Text;

namespace Mirror.IntegrationTests.Infrastructure;

/// <summary>
/// One entry of a containers-registries.conf(5) file: pulls of images under <paramref name="Registry"/> try the
/// plain-HTTP mirror at <paramref name="Location"/> first (<c>host:port</c>, optionally followed by a path prefix).
/// </summary>
/// <param name="Registry">The registry whose images are mirrored, e.g. <c>docker.io</c> or <c>ghcr.io</c>.</param>
/// <param name="Location">Where the mirror serves them, e.g. <c>127.0.0.1:5000</c> or <c>127.0.0.1:5000/ghcr.io</c>.</param>
public sealed record RegistryMirror(string Registry, string Location)
{
    /// <summary>
    /// The mirror on 127.0.0.1:<paramref name="port"/>: Docker Hub at the root (as Docker's registry-mirrors has it),
    /// any other registry under a path prefix named after it (<c>127.0.0.1:PORT/ghcr.io/org/app</c>).
    /// </summary>
    public static RegistryMirror OnPort(string registry, int port) =>
        new(registry, registry == "docker.io" ? $"127.0.0.1:{port}" : $"127.0.0.1:{port}/{registry}");

    /// <summary>Writes a registries.conf that routes each registry to its mirror and allows no short names.</summary>
    internal static void WriteRegistriesConf(string path, IEnumerable<RegistryMirror> mirrors)
    {
        var text = new StringBuilder("unqualified-search-registries = []\nshort-name-mode = \"disabled\"\n");
        foreach (var mirror in mirrors)
        {
            text.Append($"\n[[registry]]\nprefix = \"{mirror.Registry}\"\nlocation = \"{mirror.Registry}\"\n");
            text.Append($"[[registry.mirror]]\nlocation = \"{mirror.Location}\"\ninsecure = true\n");
        }
        File.WriteAllText(path, text.ToString());
    }

    /// <summary>Writes a signature policy that accepts any image, so no host /etc/containers/policy.json is needed.</summary>
    internal static void WritePermissivePolicy(string path) =>
        File.WriteAllText(path, """{"default":[{"type":"insecureAcceptAnything"}]}""");
}
