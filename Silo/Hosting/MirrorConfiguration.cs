using Microsoft.Extensions.Configuration;
using Mirror.Grains;

namespace Mirror.Silo.Hosting;

/// <summary>Reads and checks the <c>Mirror</c> section; bad configuration stops the process with a message naming the setting.</summary>
public static class MirrorConfiguration
{
    /// <summary>Environment variable naming an extra JSON settings file (the Helm chart mounts one).</summary>
    public const string ConfigFileVariable = "MIRROR_CONFIG_FILE";

    /// <summary>
    /// The settings both hosts share: log levels (quiet framework, one line per request from hosting diagnostics)
    /// and the file named by <c>MIRROR_CONFIG_FILE</c>. Defaults live in code, so neither project ships an
    /// appsettings.json that would collide when the Frontend (which references the Silo) is published.
    /// </summary>
    public static void AddMirrorConfigFile(this WebApplicationBuilder builder)
    {
        builder.Configuration.Sources.Insert(0, new Microsoft.Extensions.Configuration.Memory.MemoryConfigurationSource
        {
            InitialData = new Dictionary<string, string?>
            {
                ["Logging:LogLevel:Default"] = "Information",
                ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
                ["Logging:LogLevel:Microsoft.AspNetCore.Hosting.Diagnostics"] = "Information",
                ["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Information",
                ["Logging:LogLevel:System.Net.Http.HttpClient"] = "Warning",
            },
        });
        AddMirrorConfigFile((IConfigurationBuilder)builder.Configuration);
    }

    /// <summary>Adds the file named by <c>MIRROR_CONFIG_FILE</c>, if any, below environment variables and the command line.</summary>
    public static IConfigurationBuilder AddMirrorConfigFile(this IConfigurationBuilder builder)
    {
        if (Environment.GetEnvironmentVariable(ConfigFileVariable) is not { Length: > 0 } file) return builder;
        var sources = builder.Sources;
        // Insert before environment variables and the command line so those still win.
        var index = sources.ToList().FindIndex(s => s is Microsoft.Extensions.Configuration.EnvironmentVariables.EnvironmentVariablesConfigurationSource);
        var json = new Microsoft.Extensions.Configuration.Json.JsonConfigurationSource { Path = Path.GetFullPath(file), Optional = false, ReloadOnChange = false };
        json.ResolveFileProvider();
        if (index < 0) sources.Add(json); else sources.Insert(index, json);
        return builder;
    }

    /// <summary>Binds and validates the options; on any problem prints every message and returns null.</summary>
    public static MirrorOptions? LoadOrReport(IConfiguration configuration, TextWriter errors)
    {
        var options = new MirrorOptions();
        List<string> problems;
        try
        {
            configuration.GetSection(MirrorOptions.Section).Bind(options);
            problems = [.. options.Normalize()];
        }
        catch (InvalidOperationException e)
        {
            // The binder names the key it could not convert (e.g. "Failed to convert configuration value at 'Mirror:TagTtl'").
            problems = [e.Message];
        }
        if (problems.Count == 0) return options;
        errors.WriteLine("mirror: invalid configuration:");
        foreach (var p in problems) errors.WriteLine($"  {p}");
        return null;
    }
}
