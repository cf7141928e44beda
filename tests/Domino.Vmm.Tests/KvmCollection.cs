namespace Domino.Vmm.Tests;

/// <summary>
/// Tests that boot guests run one class at a time: guests with timing checks (smp gives each AP
/// 2 s to report) must not compete for the host's cores with a Linux boot in a parallel class.
/// </summary>
[CollectionDefinition(Name)]
public sealed class KvmGuestsCollection
{
    public const string Name = "KVM guests";
}
