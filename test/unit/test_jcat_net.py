"""JcatNet: shapes, published parameter names and count, attention, batching, training, precision, compile."""

from __future__ import annotations

import math

import pytest
import torch

from jcat_core.models.attention import MultiheadAtt
from jcat_core.models.jcat_net import IMAGENET_MEAN, IMAGENET_STD, JcatConfig, JcatNet, normalize
from jcat_core.models.precision import autocast_dtype, inference, resolve_device

CROP = 384


def box_mask(batch: int, size: int) -> torch.Tensor:
    mask = torch.zeros(batch, 1, size, size)
    mask[..., size // 4: size // 2, size // 3: 2 * size // 3] = 1.0
    return mask


def centre_distance(batch: int, size: int) -> torch.Tensor:
    yx = torch.stack(torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")).float()
    return (yx - size / 2).norm(dim=0).expand(batch, 1, size, size).clone()


@pytest.fixture(scope="module", params=["resnet50", "resnet18"])
def variant(request: pytest.FixtureRequest) -> dict:
    """Both variants with and without distance map, and one pair of 384 crops' features."""
    torch.manual_seed(0)
    nets = {mc: JcatNet(JcatConfig(backbone=request.param, mixer_channels=mc)).eval() for mc in (2, 3)}
    with torch.inference_mode():
        test_feats = nets[3].extract_features(torch.randn(1, 3, CROP, CROP))
        ref_feats = nets[3].extract_features(torch.randn(1, 3, CROP, CROP))
    return {"nets": nets, "test": test_feats, "ref": ref_feats}


@pytest.mark.parametrize("bank_size", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("with_distance", [True, False])
def test_logits_are_2x384x384_for_every_bank_size(variant: dict, with_distance: bool, bank_size: int) -> None:
    net = variant["nets"][3 if with_distance else 2]
    dist = centre_distance(1, CROP) if with_distance else None
    with torch.inference_mode():
        bank = [net.bank_entry(variant["ref"], box_mask(1, CROP)) for _ in range(bank_size)]
        logits = net.segment(variant["test"], variant["ref"], box_mask(1, CROP), dist, bank)
    assert logits.shape == (1, 2, CROP, CROP)
    assert torch.isfinite(logits).all()


def test_bank_sample_identical_to_the_reference_changes_nothing(variant: dict) -> None:
    net, ref = variant["nets"][3], variant["ref"]
    args = (variant["test"], ref, box_mask(1, CROP), centre_distance(1, CROP))
    with torch.inference_mode():
        plain = net.segment(*args)
        with_bank = net.segment(*args, bank=[net.bank_entry(ref, box_mask(1, CROP))])
    torch.testing.assert_close(with_bank, plain, rtol=0, atol=0)


def test_distance_map_presence_must_match_mixer_channels(variant: dict) -> None:
    with pytest.raises(ValueError, match="needs a distance map"):
        variant["nets"][3].segment(variant["test"], variant["ref"], box_mask(1, CROP))
    with pytest.raises(ValueError, match="takes no distance map"):
        variant["nets"][2].segment(variant["test"], variant["ref"], box_mask(1, CROP), centre_distance(1, CROP))


def block(c_in: int, c_out: int, k: int) -> int:
    """Parameters of C/Cn(c_in→c_out,k): conv weight + conv bias + BN weight and bias."""
    return c_in * c_out * k * k + c_out + 2 * c_out


def attention_block(d: int = 64, inner: int = 8 * 64, hidden: int = 512) -> int:
    """fcq, fck, fcv (d→inner), fco (inner→d), linear1 (d→hidden), linear2 (hidden→d), norm1, norm2."""
    return 3 * (d * inner + inner) + (inner * d + d) + (d * hidden + hidden) + (hidden * d + d) + 2 * (2 * d)


def test_published_head_parameter_count_equals_the_spec_table() -> None:
    spec_table = {  # JCAT_SPEC.md section 1, ResNet-50, mixer_channels 3
        "segment0": block(1024, 64, 1), "segment1": block(64, 64, 3),
        "fusion0": block(1024, 64, 1), "fusion1": block(64, 64, 3),
        "mixer0": block(3, 32, 3), "mixer1": block(32, 64, 3),
        "f3_0": block(64, 64, 3), "f3_1": block(64, 64, 3),
        "s3_0": block(64, 32, 3), "s3_1": block(32, 32, 3),
        "f2_0": block(512, 64, 3), "f2_1": block(64, 32, 3),
        "post2_0": block(32, 16, 3), "post2_1": block(16, 16, 3),
        "f1_0": block(256, 32, 3), "f1_1": block(32, 16, 3),
        "post1_0": block(16, 4, 3), "post1_1": block(4, 4, 3),
        "f0_0": block(64, 16, 3), "f0_1": block(16, 4, 3),
        "post0_0": block(4, 2, 3), "post0_1": block(2, 2, 3),
        "fusion": 3 * attention_block(),
    }
    by_hand = sum(spec_table.values())
    assert by_hand == 1_334_060
    counts = {}
    for backbone in ("resnet50", "resnet18"):
        net = JcatNet(JcatConfig(backbone=backbone))
        counts[backbone] = (sum(p.numel() for p in net.segm_predictor.parameters()),
                            sum(p.numel() for p in net.feature_extractor.parameters()))
        print(f"{backbone}: head {counts[backbone][0]:,} parameters, backbone {counts[backbone][1]:,}")
    assert counts["resnet50"][0] == by_hand
    assert counts["resnet50"][1] == 25_557_032  # torchvision resnet50, fc included
    assert counts["resnet18"][1] == 11_689_512  # torchvision resnet18
    net = JcatNet()
    per_module = {name: sum(p.numel() for p in m.parameters()) for name, m in net.segm_predictor.named_children()}
    assert per_module == spec_table


def test_state_dict_uses_the_published_names() -> None:
    keys = set(JcatNet().state_dict())
    for key in ("segm_predictor.segment0.0.weight", "segm_predictor.segment0.1.running_var",
                "segm_predictor.segment0.1.num_batches_tracked", "segm_predictor.mixer0.0.weight",
                "segm_predictor.post0_1.1.bias", "feature_extractor.layer4.2.bn3.weight",
                "feature_extractor.fc.bias"):
        assert key in keys
    for i in (1, 2, 3):
        for layer in ("fcq", "fck", "fcv", "fco", "linear1", "linear2", "norm1", "norm2"):
            for param in ("weight", "bias"):
                assert f"segm_predictor.fusion.cross_att{i}.{layer}.{param}" in keys
    head = {k.split(".")[1] for k in keys if k.startswith("segm_predictor.")}
    assert head == {"segment0", "segment1", "fusion0", "fusion1", "fusion", "mixer0", "mixer1", "s3_0", "s3_1",
                    "f3_0", "f3_1", "f2_0", "f2_1", "f1_0", "f1_1", "f0_0", "f0_1", "post2_0", "post2_1",
                    "post1_0", "post1_1", "post0_0", "post0_1"}
    assert all(k.startswith(("feature_extractor.", "segm_predictor.")) for k in keys)


def test_head_init_is_kaiming_fan_in_with_zero_biases() -> None:
    torch.manual_seed(0)
    head = JcatNet().segm_predictor
    weight = head.f2_0[0].weight  # fan_in 512*9: std sqrt(2/fan_in)
    assert abs(weight.std().item() / math.sqrt(2 / (512 * 9)) - 1) < 0.02
    assert all(m.bias.abs().max() == 0 for m in head.modules() if isinstance(m, torch.nn.Conv2d | torch.nn.Linear))


def reference_attention(block: MultiheadAtt, query: torch.Tensor, kv: torch.Tensor) -> torch.Tensor:
    """The block written out head by head, in eval mode (no dropout)."""
    heads = []
    for h in range(8):
        rows = slice(64 * h, 64 * (h + 1))
        q = query @ block.fcq.weight[rows].T + block.fcq.bias[rows]
        k = kv @ block.fck.weight[rows].T + block.fck.bias[rows]
        v = kv @ block.fcv.weight[rows].T + block.fcv.bias[rows]
        heads.append(torch.softmax(q @ k.transpose(-1, -2) / 8.0, dim=-1) @ v)
    x = block.norm1(query + block.fco(torch.cat(heads, dim=-1)))
    return block.norm2(x + block.linear2(torch.relu(block.linear1(x))))


def test_attention_block_matches_a_straightforward_computation() -> None:
    torch.manual_seed(0)
    block_ = MultiheadAtt().eval()
    query, kv = torch.randn(2, 36, 64), torch.randn(2, 36, 64)
    with torch.no_grad():
        torch.testing.assert_close(block_(query, kv), reference_attention(block_, query, kv), rtol=1e-5, atol=1e-5)


def test_feed_forward_drops_its_hidden_layer_in_training_as_published() -> None:
    """linear1 -> ReLU -> dropout -> linear2: in training, linear2 sees ReLU(linear1) with ~10 % zeroed, rest / 0.9."""
    torch.manual_seed(0)
    block_ = MultiheadAtt().train()
    seen: dict[str, torch.Tensor] = {}
    block_.linear1.register_forward_hook(lambda _m, _i, out: seen.update(hidden=torch.relu(out)))
    block_.linear2.register_forward_hook(lambda _m, inp, _o: seen.update(dropped=inp[0]))
    with torch.no_grad():
        block_(torch.randn(2, 36, 64), torch.randn(2, 36, 64))
    hidden, dropped = seen["hidden"], seen["dropped"]
    kept = dropped != 0
    torch.testing.assert_close(dropped[kept], hidden[kept] / 0.9)
    zeroed = ((hidden > 0) & ~kept).sum() / (hidden > 0).sum()
    assert 0.07 < zeroed < 0.13


def test_training_attention_without_dropout_equals_the_inference_attention() -> None:
    """The written-out attention of training (dropout p=0 here) computes what the fused inference kernel does."""
    torch.manual_seed(0)
    block_ = MultiheadAtt()
    for m in block_.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    query, kv = torch.randn(2, 20, 64), torch.randn(2, 36, 64)
    with torch.no_grad():
        torch.testing.assert_close(block_.train()(query, kv), block_.eval()(query, kv), rtol=1e-5, atol=1e-5)


def test_freezing_the_dropout_modules_makes_a_training_forward_deterministic() -> None:
    """Tools that freeze dropout put the nn.Dropout modules alone in eval mode; the network must obey them."""
    torch.manual_seed(0)
    net = JcatNet(JcatConfig(backbone="resnet18")).train()
    dropouts = [m for m in net.modules() if isinstance(m, torch.nn.Dropout)]
    images, mask, dist = torch.randn(2, 3, 64, 64), box_mask(2, 64), centre_distance(2, 64)
    with torch.no_grad():
        assert not torch.equal(net(images, mask, images, dist), net(images, mask, images, dist))
        for m in dropouts:
            m.eval()
        first = net(images, mask, images, dist)
        second = net(images, mask, images, dist)
    assert net.training
    torch.testing.assert_close(first, second, rtol=0, atol=0)
    assert len(dropouts) == 12 and all(m.p == 0.1 for m in dropouts)  # 4 per attention block, as published


def test_attention_works_with_different_token_counts() -> None:
    torch.manual_seed(0)
    net = JcatNet(JcatConfig(backbone="resnet18")).eval()
    ref, test = torch.randn(2, 20, 64), torch.randn(2, 49, 64)
    with torch.no_grad():
        a = net.segm_predictor.fusion.cross_att1(ref, test)
        torch.testing.assert_close(a, reference_attention(net.segm_predictor.fusion.cross_att1, ref, test),
                                   rtol=1e-5, atol=1e-5)
        assert net.segm_predictor.fusion(ref, test).shape == (2, 49, 64)
        # a whole head with a 256 reference crop and a 384 test crop
        ref_feats = net.extract_features(torch.randn(1, 3, 256, 256))
        test_feats = net.extract_features(torch.randn(1, 3, CROP, CROP))
        logits = net.segment(test_feats, ref_feats, box_mask(1, 256), centre_distance(1, CROP))
    assert logits.shape == (1, 2, CROP, CROP)


def test_batch_of_three_equals_three_single_calls() -> None:
    torch.manual_seed(0)
    net = JcatNet(JcatConfig(backbone="resnet18")).eval()
    size = 256
    test, ref = torch.randn(3, 3, size, size), torch.randn(3, 3, size, size)
    mask, dist = (torch.rand(3, 1, size, size) > 0.5).float(), torch.rand(3, 1, size, size) * 200
    with torch.inference_mode():
        batched = net.segment(net.extract_features(test), net.extract_features(ref), mask, dist)
        single = torch.cat([
            net.segment(net.extract_features(test[i:i + 1]), net.extract_features(ref[i:i + 1]), mask[i:i + 1],
                        dist[i:i + 1])
            for i in range(3)
        ])
    # within 1e-5 relative to the logits' magnitude (random weights give logits of ~100; fp32 sums in the head
    # are ordered differently for a batch), probabilities within 1e-4
    assert (batched - single).abs().max() <= 1e-5 * single.abs().max()
    torch.testing.assert_close(batched.softmax(1), single.softmax(1), rtol=0, atol=1e-4)


def test_eval_mode_is_deterministic() -> None:
    torch.manual_seed(0)
    net = JcatNet(JcatConfig(backbone="resnet18")).eval()
    images, mask, dist = torch.randn(1, 3, 128, 128), box_mask(1, 128), centre_distance(1, 128)
    with torch.inference_mode():
        first = net(images, mask, images, dist)
        second = net(images, mask, images, dist)
    torch.testing.assert_close(first, second, rtol=0, atol=0)


def test_training_forward_reaches_head_only_and_runs_backbone_per_crop() -> None:
    torch.manual_seed(0)
    net = JcatNet(JcatConfig(backbone="resnet18")).train()
    stem_calls: list[int] = []
    net.feature_extractor.conv1.register_forward_hook(lambda _m, inp, _o: stem_calls.append(inp[0].shape[0]))
    stats_before = net.feature_extractor.bn1.running_mean.clone()
    logits = net(torch.randn(2, 3, 128, 128), box_mask(2, 128), torch.randn(2, 3, 128, 128), centre_distance(2, 128))
    logits.square().mean().backward()
    assert stem_calls == [2, 2]  # reference and test in separate backbone calls
    assert all(p.grad is None for p in net.feature_extractor.parameters())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.head_parameters())
    assert not torch.equal(stats_before, net.feature_extractor.bn1.running_mean)  # train-mode BN, as the authors


def test_normalize_accepts_uint8_and_float01_alike() -> None:
    image = torch.randint(0, 256, (2, 3, 8, 8), dtype=torch.uint8)
    from_uint8, from_float = normalize(image), normalize(image.float() / 255)
    torch.testing.assert_close(from_uint8, from_float)
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1).expand(3, 8, 8)
    torch.testing.assert_close(normalize(mean), torch.zeros(3, 8, 8))
    torch.testing.assert_close(normalize(mean + torch.tensor(IMAGENET_STD).view(3, 1, 1)), torch.ones(3, 8, 8))


def test_config_round_trips_and_rejects_bad_values() -> None:
    config = JcatConfig(backbone="resnet18", mixer_channels=2)
    assert JcatConfig.from_dict(config.to_dict()) == config
    for bad in ({"backbone": "vgg16"}, {"mixer_channels": 4}, {"crop_size": 380}):
        with pytest.raises(ValueError):
            JcatConfig(**bad)
    with pytest.raises(ValueError, match="unknown"):
        JcatConfig.from_dict({"typo": 1})


BF16_TOLERANCE = 0.06  # max |bf16 - fp32| logits relative to max |fp32| (bf16 has an 8-bit mantissa)


def test_cpu_bf16_autocast_is_close_to_fp32() -> None:
    torch.manual_seed(0)
    net = JcatNet(JcatConfig(backbone="resnet18")).eval()
    images, mask, dist = torch.randn(1, 3, 128, 128), box_mask(1, 128), centre_distance(1, 128)
    cpu = torch.device("cpu")
    outputs = {}
    for precision in ("fp32", "bf16"):
        with inference(cpu, precision):
            feats = net.extract_features(images)
            outputs[precision] = net.segment(feats, feats, mask, dist).float()
    assert outputs["bf16"].dtype == torch.float32
    error = (outputs["bf16"] - outputs["fp32"]).abs().max() / outputs["fp32"].abs().max()
    assert error < BF16_TOLERANCE


def test_precision_choices() -> None:
    cpu = torch.device("cpu")
    assert autocast_dtype(cpu, "fp32") is None
    assert autocast_dtype(cpu, "bf16") == torch.bfloat16
    with pytest.raises(ValueError, match="CUDA only"):
        autocast_dtype(cpu, "fp16")
    with pytest.raises(ValueError, match="precision"):
        autocast_dtype(cpu, "int8")
    assert resolve_device("cpu") == cpu
    if not torch.cuda.is_available():
        assert resolve_device("auto") == cpu
        with pytest.raises(ValueError, match="no CUDA"):
            resolve_device("cuda")


def test_segment_compiles_fullgraph_without_graph_breaks() -> None:
    torch.manual_seed(0)
    net = JcatNet(JcatConfig(backbone="resnet18")).eval()
    mask, dist = box_mask(1, 128), centre_distance(1, 128)
    with torch.inference_mode():
        feats = net.extract_features(torch.randn(1, 3, 128, 128))
        bank = [net.bank_entry(feats, mask), net.bank_entry(feats, 1 - mask)]
        expected = net.segment(feats, feats, mask, dist, bank)
        compiled = torch.compile(net.segment, fullgraph=True, backend="eager")
        torch.testing.assert_close(compiled(feats, feats, mask, dist, bank), expected)


@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["fp32", "fp16", "bf16"])
def test_cuda_precisions_run_and_stay_close(precision: str) -> None:
    torch.manual_seed(0)
    cuda = torch.device("cuda")
    net = JcatNet().eval().to(cuda)
    images, mask = torch.randn(1, 3, CROP, CROP, device=cuda), box_mask(1, CROP).to(cuda)
    dist = centre_distance(1, CROP).to(cuda)
    with inference(cuda, "fp32"):
        feats = net.extract_features(images)
        reference = net.segment(feats, feats, mask, dist).float()
    with inference(cuda, precision):
        feats = net.extract_features(images)
        logits = net.segment(feats, feats, mask, dist).float()
    assert (logits - reference).abs().max() / reference.abs().max() < BF16_TOLERANCE
