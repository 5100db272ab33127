//! Settings a row states in words of its config ("tp_comm_overlap=False",
//! "expert_tensor_parallel_size = 1", "20 SMs"), read from its lower-cased text: the
//! run's own word, which wins over its framework's defaults (`recipe::refine`).

use crate::spec::training::MoeDispatcher;

/// What a config statement `key = value` in the lower-cased `text` sets, read by
/// `parse` from the text after the `=`; the first statement `parse` reads wins. With
/// `word`, the key stands as a word of its own, not the tail of a longer name.
fn config_value<T>(
    text: &str,
    key: &str,
    word: bool,
    parse: impl Fn(&str) -> Option<T>,
) -> Option<T> {
    text.match_indices(key).find_map(|(i, _)| {
        let before = text[..i].chars().next_back();
        if word && before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            return None;
        }
        parse(
            text[i + key.len()..]
                .trim_start()
                .strip_prefix('=')?
                .trim_start(),
        )
    })
}

/// The boolean a config statement `key=true|false` (or `key = True`, Megatron and NeMo
/// spellings) in the lower-cased `text` sets; `None` when the text does not set it. A
/// longer name ending in the key is read too: NeMo's `ub_tp_comm_overlap` is Megatron's
/// `tp_comm_overlap`.
pub fn config_flag(text: &str, key: &str) -> Option<bool> {
    config_value(text, key, false, |value| {
        if value.starts_with("true") || value.starts_with('1') {
            Some(true)
        } else if value.starts_with("false") || value.starts_with('0') {
            Some(false)
        } else {
            None
        }
    })
}

/// The whole number a config statement `key = N` in the lower-cased `text` sets
/// ("expert_tensor_parallel_size = 1"); `None` when the text does not set it. The key
/// stands as a word of its own (`bucket_size` is not read from DeepSpeed's
/// `reduce_bucket_size`).
pub fn config_count(text: &str, key: &str) -> Option<u32> {
    config_value(text, key, true, |value| {
        let end = value
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(value.len());
        value[..end].parse().ok()
    })
}

/// SMs reserved for communication, when the text says "N SMs" (DeepSeek-V3's "custom
/// all-to-all (20 SMs)", report section 3.2.2).
pub fn comm_sms(text: &str) -> u32 {
    let words: Vec<&str> = text.split(|c: char| !c.is_ascii_alphanumeric()).collect();
    words
        .windows(2)
        .find(|w| w[1] == "sms")
        .and_then(|w| w[0].parse().ok())
        .unwrap_or(0)
}

/// The MoE token dispatcher the text names: Megatron-Core's `flex` dispatcher with its
/// `hybridep` or `deepep` backend (`moe_flex_dispatcher_backend`); any other text, the
/// `alltoall` dispatcher.
pub fn moe_dispatcher(text: &str) -> MoeDispatcher {
    if text.contains("hybridep") {
        MoeDispatcher::Hybridep
    } else if text.contains("deepep") {
        MoeDispatcher::Deepep
    } else {
        MoeDispatcher::AllToAll
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flex_backends_are_deepep_routing() {
        // Megatron-Bridge's H100 Qwen3 30B presets, as the rows quote them.
        let hybrid = "flex token dispatcher with the hybridep backend (qwen3_30b_a3b...)";
        assert_eq!(moe_dispatcher(hybrid), MoeDispatcher::Hybridep);
        assert_eq!(
            moe_dispatcher("flex token dispatcher with the deepep backend"),
            MoeDispatcher::Deepep
        );
        assert_eq!(
            moe_dispatcher("alltoall token dispatcher"),
            MoeDispatcher::AllToAll
        );
        assert_eq!(moe_dispatcher(""), MoeDispatcher::AllToAll);
    }
}
