using Tenzro.Node.Core.Hardware;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Core.Storage;

namespace Tenzro.Node.Hosting;

/// <summary>
/// The start-up gate: the <c>Add*</c> methods only register, and what start-up must read or write before the node
/// listens is done here, once the services are built, in this order: the identity (a bad key file stops start-up),
/// the store (opened and migrated; a database from a newer version or a damaged one stops it), the blob store, and
/// the hardware profile with its minimum requirements. Access control's own gate (the admin token, the HTTPS
/// certificate) follows in <see cref="Security.SecurityServices"/>.
/// </summary>
internal static class StartupGate
{
    /// <summary>Opens what start-up needs; throws what each part throws (see the parts' documentation).</summary>
    public static void Open(IServiceProvider services)
    {
        services.GetRequiredService<NodeIdentity>();
        services.GetRequiredService<NodeDatabase>();
        services.GetRequiredService<BlobStore>();
        services.GetRequiredService<HardwareProfiler>();
    }
}
