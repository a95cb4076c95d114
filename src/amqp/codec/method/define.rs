//! The macros that turn a hand-written method declaration into its struct,
//! its argument codec and its metadata, so the three cannot disagree.

/// Declares one method:
///
/// ```text
/// define_method! {
///     /// doc
///     BasicAck(60, 80, "basic.ack") { delivery_tag: u64, multiple: bool }
/// }
/// ```
///
/// Fields are listed in spec order; their Rust type picks the wire type
/// (see `Arg`). Add `, content` after the name for methods followed by content,
/// and `from server` after the parentheses for methods only a server sends:
/// the broker never needs their values, so the wasm build checks their
/// arguments against `INFO.fields` and decodes them as
/// `Method::SentByServer`, while native builds, whose tests act as clients,
/// decode them in full.
macro_rules! define_method {
    (
        $(#[$meta:meta])*
        $name:ident($class_id:literal, $method_id:literal, $text:literal $(, $content:ident)?)
        $(from $sender:ident)? {
            $( $(#[$fmeta:meta])* $field:ident: $ty:ty ),* $(,)?
        }
    ) => {
        #[doc = concat!("`", $text, "` (", $class_id, ".", $method_id, ").")]
        ///
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq)]
        pub struct $name {
            $(
                #[allow(missing_docs)]
                $(#[$fmeta])*
                pub $field: $ty,
            )*
        }

        impl $name {
            /// The class id on the wire.
            pub const CLASS_ID: u16 = $class_id;
            /// The method id within the class.
            pub const METHOD_ID: u16 = $method_id;

            /// Class, ids, name and arguments of this method.
            pub const INFO: $crate::amqp::codec::method::MethodInfo =
                $crate::amqp::codec::method::MethodInfo {
                    class_id: $class_id,
                    method_id: $method_id,
                    name: $text,
                    has_content: define_method!(@content $($content)?),
                    fields: &[
                        $( (stringify!($field), <$ty as $crate::amqp::codec::method::args::Arg>::KIND), )*
                    ],
                };

            define_method!(@read $($sender)? $name { $( $field ),* });

            #[allow(unused_variables)]
            pub(crate) fn write_args(&self, w: &mut $crate::amqp::codec::method::args::ArgWriter<'_>) {
                $( $crate::amqp::codec::method::args::Arg::write(&self.$field, w); )*
            }
        }

        impl From<$name> for $crate::amqp::codec::method::Method {
            fn from(m: $name) -> Self {
                $crate::amqp::codec::method::Method::$name(m)
            }
        }
    };
    (@content) => { false };
    (@content content) => { true };
    (@read $name:ident { $( $field:ident ),* }) => {
        // Natively the struct is read, then wrapped: one instruction a
        // message less on the publish path (bench/protocol.rs under
        // callgrind); in wasm, built in place: 0.7 KiB less gzipped.
        #[cfg(not(target_family = "wasm"))]
        #[allow(unused_variables)]
        fn read_args(
            r: &mut $crate::amqp::codec::method::args::ArgReader<'_>,
        ) -> Result<Self, $crate::amqp::codec::Malformed> {
            Ok($name {
                $( $field: $crate::amqp::codec::method::args::Arg::read(r)?, )*
            })
        }

        #[cfg(not(target_family = "wasm"))]
        #[inline]
        pub(crate) fn decode_args(
            r: &mut $crate::amqp::codec::method::args::ArgReader<'_>,
        ) -> Result<$crate::amqp::codec::method::Method, $crate::amqp::codec::Malformed> {
            Self::read_args(r).map($crate::amqp::codec::method::Method::$name)
        }

        #[cfg(target_family = "wasm")]
        #[allow(unused_variables)]
        pub(crate) fn decode_args(
            r: &mut $crate::amqp::codec::method::args::ArgReader<'_>,
        ) -> Result<$crate::amqp::codec::method::Method, $crate::amqp::codec::Malformed> {
            Ok($crate::amqp::codec::method::Method::$name($name {
                $( $field: $crate::amqp::codec::method::args::Arg::read(r)?, )*
            }))
        }
    };
    (@read server $name:ident { $( $field:ident ),* }) => {
        #[cfg(not(target_family = "wasm"))]
        define_method!(@read $name { $( $field ),* });

        /// A client sending this is answered by the method's name alone
        /// (503, or 502 if its arguments are malformed), so the arguments
        /// are checked, with the errors a full decode gives, and dropped.
        #[cfg(target_family = "wasm")]
        pub(crate) fn decode_args(
            r: &mut $crate::amqp::codec::method::args::ArgReader<'_>,
        ) -> Result<$crate::amqp::codec::method::Method, $crate::amqp::codec::Malformed> {
            r.check(Self::INFO.fields)?;
            Ok($crate::amqp::codec::method::Method::SentByServer(&Self::INFO))
        }
    };
}

pub(crate) use define_method;
