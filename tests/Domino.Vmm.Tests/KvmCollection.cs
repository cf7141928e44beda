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

/// <summary>
/// Tests that count the process's threads (VM shells' parked threads) run with no other test class
/// at the same time: a VM shell that a parallel class makes meanwhile would be counted too.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class KvmGuestsAloneCollection
{
    public const string Name = "KVM guests, alone";
}
