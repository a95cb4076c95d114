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
/// (see `Arg`). Add `, content` after the name for methods followed by content.
macro_rules! define_method {
    (
        $(#[$meta:meta])*
        $name:ident($class_id:literal, $method_id:literal, $text:literal $(, $content:ident)?) {
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

            #[allow(unused_variables)]
            pub(crate) fn read_args(
                r: &mut $crate::amqp::codec::method::args::ArgReader<'_>,
            ) -> Result<Self, $crate::amqp::codec::Malformed> {
                Ok($name {
                    $( $field: $crate::amqp::codec::method::args::Arg::read(r)?, )*
                })
            }

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
}

pub(crate) use define_method;
