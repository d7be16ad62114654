import pytest

from server.errors import UserError
from server.roster import idcard


def code_of(raw: str, id_type: str = "id_card") -> str:
    with pytest.raises(UserError) as caught:
        idcard.validate_document(raw, id_type)
    return caught.value.code


@pytest.mark.parametrize(
    "region,birth,sequence",
    [
        ("110101", "20070101", 1),
        ("440305", "19991231", 123),
        ("310115", "20080229", 999),
        ("510107", "19000101", 0),
    ],
)
def test_made_numbers_pass(region, birth, sequence):
    number = idcard.make(region, birth, sequence)
    assert idcard.validate(number) == number
    assert idcard.validate_document(number, "id_card") == number


def test_published_sample_passes():
    assert idcard.validate("11010519491231002X") == "11010519491231002X"


def test_wrong_check_digit():
    number = idcard.make()
    wrong = number[:17] + ("0" if number[17] != "0" else "1")
    assert code_of(wrong) == "id_number_checksum"


@pytest.mark.parametrize(
    "raw",
    [
        "110101200713010015",  # month 13
        "110101200702300010",  # 30 February
        "110101180001010010",  # before 1900
        "110101299901010010",  # in the future
        "11010120070101001",  # 17 characters
        "1101012007010100111",  # 19 characters
        "11010120070101001A",  # a letter other than X
        "ABCDEFGHIJKLMNOPQR",
        "010101200701010011",  # leading zero
        "",
    ],
)
def test_invalid_shapes(raw):
    assert code_of(raw) == "id_number_invalid"


def test_lower_case_x_and_full_width_digits_normalize():
    assert idcard.validate("11010519491231002x") == "11010519491231002X"
    full = "１１０１０５１９４９１２３１００２ｘ"
    assert idcard.validate(full) == "11010519491231002X"
    assert idcard.validate(" 110105 19491231 002X ") == "11010519491231002X"


def test_passport_shape_only():
    assert idcard.validate_document("e12345678", "passport") == "E12345678"
    assert code_of("E1", "passport") == "id_number_invalid"
    assert code_of("E123-456", "passport") == "id_number_invalid"
