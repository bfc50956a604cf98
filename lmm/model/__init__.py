"""The Large Market Model: tokens (:mod:`.tokenizer` with its price and size references and
:mod:`.quantiles`), book features (:mod:`.features`), the dataset (:mod:`.dataset`), the
transformer (:mod:`.transformer`), training (:mod:`.train`), checkpoints (:mod:`.checkpoint`),
generation (:mod:`.generate`) and generated sessions as LOBSTER files (:mod:`.sessions`)."""
